"""The Prompter over in-memory streams: defaults, wrong input, end of input, pickers."""

from __future__ import annotations

import io

import pytest

from minicloud.cli.prompts import Cancelled, EndOfInput, Prompter
from minicloud.model.errors import ValidationError
from minicloud.model.validation import check_name


def prompter(text: str) -> tuple[Prompter, io.StringIO]:
    out = io.StringIO()
    return Prompter(io.StringIO(text), out), out


MENU = "\n[ Things ]\n[1] : One\n[2] : Two\n[3] : Back\nMake a choice : [1] "


def test_menu_text_and_default() -> None:
    p, out = prompter("\n")
    assert p.menu("Things", ["One", "Two", "Back"]) == 1
    assert out.getvalue() == MENU


def test_menu_takes_a_number_with_spaces() -> None:
    p, _ = prompter(" 3 \n")
    assert p.menu("Things", ["One", "Two", "Back"]) == 3


@pytest.mark.parametrize("wrong", ["abc", "99", "0", "-1", "1.5", "٣", "x" * 10_000,
                                   "9" * 10_000, "\x01", "\ufffd\ufffd"])
def test_menu_wrong_input_gives_one_line_then_the_menu_again(wrong: str) -> None:
    p, out = prompter(f"{wrong}\n2\n")
    assert p.menu("Things", ["One", "Two", "Back"]) == 2
    assert out.getvalue() == MENU + "Please pick a number between 1 and 3.\n" + MENU


def test_menu_end_of_input() -> None:
    p, out = prompter("")
    with pytest.raises(EndOfInput):
        p.menu("Things", ["One"])
    p, _ = prompter("abc")  # a last line without newline is still read
    with pytest.raises(EndOfInput):
        p.menu("Things", ["One"])


def test_ask_default_shown_in_brackets_and_taken_on_enter() -> None:
    p, out = prompter("\n")
    assert p.ask("Location", default="here") == "here"
    assert out.getvalue() == "Location : [here] "


def test_ask_strips_and_returns_the_answer() -> None:
    p, out = prompter("  there  \r\n")
    assert p.ask("Location", default="here") == "there"


def test_ask_required_value() -> None:
    p, out = prompter("\n   \nname\n")
    assert p.ask("Name") == "name"
    assert out.getvalue() == "Name : A value is required.\nName : A value is required.\nName : "


def test_ask_optional_value_with_empty_default() -> None:
    p, out = prompter("\n")
    assert p.ask("Subnet (empty: none)", default="") == ""
    assert out.getvalue() == "Subnet (empty: none) : "


def test_ask_validator_message_then_again() -> None:
    p, out = prompter("bad name\ngood-name\n")
    assert p.ask("Name", validate=check_name) == "good-name"
    lines = out.getvalue().split("\n")
    assert len(lines) == 2
    assert lines[0].startswith("Name : invalid name 'bad name': use 1-64 characters")
    assert lines[1] == "Name : "


def test_ask_validator_may_normalise_and_value_error_is_shown() -> None:
    def upper(text: str) -> str:
        if text == "no":
            raise ValueError("not that one")
        return text.upper()

    p, out = prompter("no\nyes\n")
    assert p.ask("Word", validate=upper) == "YES"
    assert out.getvalue() == "Word : not that one\nWord : "


def test_ask_validator_checks_the_default_too() -> None:
    def refuse(text: str) -> None:
        raise ValidationError(f"{text} is refused")

    p, out = prompter("\n")
    with pytest.raises(EndOfInput):
        p.ask("Word", default="x", validate=refuse)
    assert out.getvalue() == "Word : [x] x is refused\nWord : [x] "


def test_ask_long_line_control_characters_and_bad_bytes() -> None:
    long_line = "a" * 10_000
    p, out = prompter(f"{long_line}\nab\x07c\nab\ufffd\nx\u2028y\nok\n")
    assert p.ask("Name", validate=check_name) == "ok"
    lines = out.getvalue().split("\n")
    # Too long for any answer, said with the field's own limit (issue 25, Words).
    assert lines[0].startswith("Name : invalid name 'aaaa") and "1-64 characters" in lines[0]
    assert lines[1] == "Name : Control characters are not allowed."
    assert lines[2] == "Name : That is not valid UTF-8 text."
    assert lines[3] == "Name : Control characters are not allowed."
    assert lines[4] == "Name : "
    assert long_line not in out.getvalue()


def test_ask_name_of_64_ok_and_65_refused_with_one_line() -> None:
    p, out = prompter("a" * 65 + "\n" + "a" * 64 + "\n")
    assert p.ask("Name", validate=check_name) == "a" * 64
    assert out.getvalue().count("\n") == 1


def test_ask_end_of_input() -> None:
    p, _ = prompter("")
    with pytest.raises(EndOfInput):
        p.ask("Name")


@pytest.mark.parametrize(("answer", "expected"), [("\n", False), ("n\n", False),
                                                  ("no\n", False), ("y\n", True),
                                                  ("Y\n", True), ("yes\n", True)])
def test_confirm(answer: str, expected: bool) -> None:
    p, out = prompter(answer)
    assert p.confirm("Really?") is expected
    assert out.getvalue() == "Really? [y/N] "


def test_confirm_wrong_answer_then_again() -> None:
    p, out = prompter("maybe\ny\n")
    assert p.confirm("Really?") is True
    assert out.getvalue() == "Really? [y/N] Please answer y or n.\nReally? [y/N] "


def test_confirm_end_of_input() -> None:
    p, _ = prompter("")
    with pytest.raises(EndOfInput):
        p.confirm("Really?")


def test_pick_single_candidate_is_the_default() -> None:
    p, out = prompter("\n")
    assert p.pick("Cloud", ["Lab"]) == "Lab"
    assert out.getvalue() == "\n[ Cloud ]\n[1] : Lab\n[2] : Cancel\nMake a choice : [1] "


def test_pick_several_candidates_have_no_default() -> None:
    p, out = prompter("\n2\n")
    assert p.pick("Cloud", ["A", "B"], describe=lambda s: f"cloud {s}") == "B"
    menu = "\n[ Cloud ]\n[1] : cloud A\n[2] : cloud B\n[3] : Cancel\nMake a choice : "
    assert out.getvalue() == menu + "Please pick a number between 1 and 3.\n" + menu


def test_pick_explicit_default() -> None:
    p, out = prompter("\n")
    assert p.pick("Type", ["openstack", "stub"], default="stub") == "stub"
    assert out.getvalue().endswith("Make a choice : [2] ")


@pytest.mark.parametrize(("answer", "expected"), [("stub\n", "stub"), (" OpenStack \n",
                                                                       "openstack")])
def test_pick_takes_an_entry_typed_as_shown(answer: str, expected: str) -> None:
    p, out = prompter(answer)
    assert p.pick("Cloud type", ["cloudstack", "openstack", "stub"]) == expected
    assert "Please pick" not in out.getvalue()


def test_pick_a_typed_entry_must_be_one_whole_entry() -> None:
    p, out = prompter("stu\nnet\ncancel\n")
    with pytest.raises(Cancelled):
        p.pick("Network", ["net", "net", "other"])  # two entries read "net": no guess
    assert out.getvalue().count("Please pick a number between 1 and 4.") == 2


@pytest.mark.parametrize("items", [["A"], ["A", "B"]])
def test_pick_cancel(items: list[str]) -> None:
    p, _ = prompter(f"{len(items) + 1}\n")
    with pytest.raises(Cancelled):
        p.pick("Cloud", items)


def test_pick_nothing_to_pick_says_so_and_cancels() -> None:
    p, out = prompter("")
    with pytest.raises(Cancelled):
        p.pick("Cloud", [], empty="No clouds yet.")
    assert out.getvalue() == "No clouds yet.\n"


def test_pick_end_of_input() -> None:
    p, _ = prompter("")
    with pytest.raises(EndOfInput):
        p.pick("Cloud", ["A", "B"])


def test_secret_from_a_pipe_is_never_echoed() -> None:
    p, out = prompter("\ns3cret word\n")
    assert p.secret("Password") == "s3cret word"
    assert "s3cret" not in out.getvalue()
    assert out.getvalue() == "Password : A value is required.\nPassword : "


def test_secret_end_of_input() -> None:
    p, _ = prompter("")
    with pytest.raises(EndOfInput):
        p.secret("Password")


def test_secret_uses_getpass_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty("")
    monkeypatch.setattr(sys, "stdin", tty)
    asked: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "hidden"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    out = io.StringIO()
    assert Prompter(output=out).secret("Password") == "hidden"
    assert asked == ["Password : "]
    assert "hidden" not in out.getvalue()

    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", eof)
    with pytest.raises(EndOfInput):
        Prompter(output=out).secret("Password")
