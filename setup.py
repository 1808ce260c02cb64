from setuptools import find_packages, setup

setup(
    name="minicloud",
    version="0.1.0",
    description="One command-line place to see and change several clouds at once",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["minicloud", "minicloud.*"]),
    install_requires=[
        "dataset>=1.6",
        "SQLAlchemy>=1.4",
        "PyMySQL>=1.0",
        "openstacksdk>=1.0",
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "hypothesis>=6",
            "pexpect>=4.8",
            "requests-mock>=1.9",
            "fixtures>=4",
            "ruff>=0.5",
        ],
    },
    entry_points={"console_scripts": ["minicloud = minicloud.cli.main:main"]},
)
