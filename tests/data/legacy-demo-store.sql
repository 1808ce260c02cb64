BEGIN TRANSACTION;
CREATE TABLE changes (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE clouds (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "clouds" VALUES('TryStack/TryStack','TryStack','TryStack','{"drift":0,"location":"trystack.org","name":"TryStack","reachable":true,"settings":{"external_cidr":"8.21.28.0/24","external_network":"external","external_subnet":"trystack"},"synced_at":1796511988.3094416,"type":"stub"}',1);
CREATE TABLE clusters (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "clusters" VALUES('TryStack/Antwerp','TryStack','Antwerp','{"cloud":"TryStack","name":"Antwerp"}',1);
INSERT INTO "clusters" VALUES('TryStack/London','TryStack','London','{"cloud":"TryStack","name":"London"}',1);
CREATE TABLE drifts (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE flavors (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "flavors" VALUES('TryStack/flavor-m1.tiny','TryStack','m1.tiny','{"cloud":"TryStack","disk":1,"id":"flavor-m1.tiny","name":"m1.tiny","owned":false,"ram":512,"vcpus":1}',1);
INSERT INTO "flavors" VALUES('TryStack/flavor-m1.small','TryStack','m1.small','{"cloud":"TryStack","disk":20,"id":"flavor-m1.small","name":"m1.small","owned":false,"ram":2048,"vcpus":1}',1);
INSERT INTO "flavors" VALUES('TryStack/flavor-m1.medium','TryStack','m1.medium','{"cloud":"TryStack","disk":40,"id":"flavor-m1.medium","name":"m1.medium","owned":false,"ram":4096,"vcpus":2}',1);
CREATE TABLE images (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "images" VALUES('TryStack/image-cirros','TryStack','cirros','{"cloud":"TryStack","id":"image-cirros","name":"cirros","owned":false,"properties":{"os_admin_user":"cirros"}}',1);
INSERT INTO "images" VALUES('TryStack/image-ubuntu','TryStack','ubuntu','{"cloud":"TryStack","id":"image-ubuntu","name":"ubuntu","owned":false,"properties":{"os_admin_user":"ubuntu"}}',1);
CREATE TABLE instances (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "instances" VALUES('TryStack/368b62c3-a0b5-48fc-bdf0-acbc04461527','TryStack','Bourla','{"cloud":"TryStack","cluster":"Antwerp","flavor":"m1.tiny","id":"368b62c3-a0b5-48fc-bdf0-acbc04461527","image":"cirros","key_name":null,"name":"Bourla","nics":[{"ip":"10.10.1.12","network_id":"085740ab-9e33-4ba2-bf79-d0753fd0ced5","port_id":"45c77921-dfe4-4f58-a00d-87488bd68a3b"}],"owned":true,"security_groups":["default"],"status":"ACTIVE"}',1);
INSERT INTO "instances" VALUES('TryStack/850faba9-bbec-47ae-befb-56e387242592','TryStack','Tower','{"cloud":"TryStack","cluster":"London","flavor":"m1.tiny","id":"850faba9-bbec-47ae-befb-56e387242592","image":"cirros","key_name":null,"name":"Tower","nics":[{"ip":"10.10.2.5","network_id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","port_id":"2a52ae8c-141b-485c-9c94-ec39bfe70e33"}],"owned":true,"security_groups":["public_ssh"],"status":"ACTIVE"}',1);
INSERT INTO "instances" VALUES('TryStack/d8bfa8c9-45ca-44dc-b713-6e8b41d495b1','TryStack','Ben','{"cloud":"TryStack","cluster":"London","flavor":"m1.tiny","id":"d8bfa8c9-45ca-44dc-b713-6e8b41d495b1","image":"cirros","key_name":null,"name":"Ben","nics":[{"ip":"10.10.2.6","network_id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","port_id":"ccaeca44-6019-42ca-ab1e-a0de2a09c1a1"}],"owned":true,"security_groups":["default"],"status":"ACTIVE"}',1);
CREATE TABLE intents (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE keypairs (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE minicloud_meta (
	name VARCHAR(64) NOT NULL, 
	value VARCHAR(255), 
	PRIMARY KEY (name)
);
INSERT INTO "minicloud_meta" VALUES('schema','3');
INSERT INTO "minicloud_meta" VALUES('store_id','a926f8ab9fe44ce0a2c2ea7bd105f4b0');
INSERT INTO "minicloud_meta" VALUES('lock/*','0');
INSERT INTO "minicloud_meta" VALUES('lock/TryStack','10');
INSERT INTO "minicloud_meta" VALUES('lock/stub/TryStack','0');
CREATE TABLE networks (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "networks" VALUES('TryStack/2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4','TryStack','external','{"cloud":"TryStack","external":true,"id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","name":"external","owned":false,"subnets":[{"cidr":"8.21.28.0/24","gateway_ip":"8.21.28.1","id":"fbe977e0-590e-44fa-916f-519226ea066c","name":"trystack"}]}',1);
INSERT INTO "networks" VALUES('TryStack/9b0941fd-e158-4fa2-99d5-2d942a28e08b','TryStack','LondonNet','{"cloud":"TryStack","external":false,"id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","name":"LondonNet","owned":true,"subnets":[{"cidr":"10.10.2.0/24","gateway_ip":"10.10.2.1","id":"8745eed9-9147-4706-879d-98d41d778086","name":"LondonNet-subnet"}]}',1);
INSERT INTO "networks" VALUES('TryStack/085740ab-9e33-4ba2-bf79-d0753fd0ced5','TryStack','AntwerpNet','{"cloud":"TryStack","external":false,"id":"085740ab-9e33-4ba2-bf79-d0753fd0ced5","name":"AntwerpNet","owned":true,"subnets":[{"cidr":"10.10.1.0/24","gateway_ip":"10.10.1.1","id":"8b2345a1-acb8-486b-a147-ad309990f926","name":"AntwerpNet-subnet"}]}',1);
CREATE TABLE public_ips (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "public_ips" VALUES('TryStack/071629a5-7690-4c55-81e9-052e8ac61f11','TryStack','8.21.28.30','{"cloud":"TryStack","fixed_ip":"10.10.2.5","id":"071629a5-7690-4c55-81e9-052e8ac61f11","instance_id":"850faba9-bbec-47ae-befb-56e387242592","name":"8.21.28.30","network_id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","owned":true,"port_id":"2a52ae8c-141b-485c-9c94-ec39bfe70e33","router_id":null}',1);
CREATE TABLE routers (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "routers" VALUES('TryStack/38c2c398-e02c-4712-ac09-5a0dbbdc4eaf','TryStack','LondonGateway','{"cloud":"TryStack","gateway_network_id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","id":"38c2c398-e02c-4712-ac09-5a0dbbdc4eaf","interface_network_ids":["9b0941fd-e158-4fa2-99d5-2d942a28e08b"],"name":"LondonGateway","owned":true}',2);
CREATE TABLE security_groups (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "security_groups" VALUES('TryStack/d530486d-a278-47bd-9de8-aa49dca1995a','TryStack','default','{"cloud":"TryStack","description":"Default security group","id":"d530486d-a278-47bd-9de8-aa49dca1995a","name":"default","owned":false,"rules":[]}',1);
INSERT INTO "security_groups" VALUES('TryStack/5f2e3686-d0c8-4549-b083-5aa33bfc4700','TryStack','public_ssh','{"cloud":"TryStack","description":"SSH from anywhere (MiniCloud)","id":"5f2e3686-d0c8-4549-b083-5aa33bfc4700","name":"public_ssh","owned":true,"rules":[{"direction":"ingress","ethertype":"IPv4","port_max":22,"port_min":22,"protocol":"tcp","remote_ip_prefix":"0.0.0.0/0"},{"direction":"ingress","ethertype":"IPv6","port_max":22,"port_min":22,"protocol":"tcp","remote_ip_prefix":"::/0"}]}',1);
CREATE TABLE stub_instances (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "stub_instances" VALUES('TryStack/368b62c3-a0b5-48fc-bdf0-acbc04461527','TryStack','Bourla','{"cloud":"TryStack","cluster":"Antwerp","flavor":"m1.tiny","id":"368b62c3-a0b5-48fc-bdf0-acbc04461527","image":"cirros","key_name":null,"name":"Bourla","nics":[{"ip":"10.10.1.12","network_id":"085740ab-9e33-4ba2-bf79-d0753fd0ced5","port_id":"45c77921-dfe4-4f58-a00d-87488bd68a3b"}],"owned":true,"security_groups":["default"],"status":"running","version":0}',2);
INSERT INTO "stub_instances" VALUES('TryStack/850faba9-bbec-47ae-befb-56e387242592','TryStack','Tower','{"cloud":"TryStack","cluster":"London","flavor":"m1.tiny","id":"850faba9-bbec-47ae-befb-56e387242592","image":"cirros","key_name":null,"name":"Tower","nics":[{"ip":"10.10.2.5","network_id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","port_id":"2a52ae8c-141b-485c-9c94-ec39bfe70e33"}],"owned":true,"security_groups":["public_ssh"],"status":"running","version":0}',2);
INSERT INTO "stub_instances" VALUES('TryStack/d8bfa8c9-45ca-44dc-b713-6e8b41d495b1','TryStack','Ben','{"cloud":"TryStack","cluster":"London","flavor":"m1.tiny","id":"d8bfa8c9-45ca-44dc-b713-6e8b41d495b1","image":"cirros","key_name":null,"name":"Ben","nics":[{"ip":"10.10.2.6","network_id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","port_id":"ccaeca44-6019-42ca-ab1e-a0de2a09c1a1"}],"owned":true,"security_groups":["default"],"status":"running","version":0}',2);
CREATE TABLE stub_keypairs (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE stub_networks (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "stub_networks" VALUES('TryStack/2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4','TryStack','external','{"cloud":"TryStack","external":true,"id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","name":"external","owned":false,"subnets":[{"cidr":"8.21.28.0/24","gateway_ip":"8.21.28.1","id":"fbe977e0-590e-44fa-916f-519226ea066c","name":"trystack"}],"version":0}',1);
INSERT INTO "stub_networks" VALUES('TryStack/9b0941fd-e158-4fa2-99d5-2d942a28e08b','TryStack','LondonNet','{"cloud":"TryStack","external":false,"id":"9b0941fd-e158-4fa2-99d5-2d942a28e08b","name":"LondonNet","owned":true,"subnets":[{"cidr":"10.10.2.0/24","gateway_ip":"10.10.2.1","id":"8745eed9-9147-4706-879d-98d41d778086","name":"LondonNet-subnet"}],"version":0}',1);
INSERT INTO "stub_networks" VALUES('TryStack/085740ab-9e33-4ba2-bf79-d0753fd0ced5','TryStack','AntwerpNet','{"cloud":"TryStack","external":false,"id":"085740ab-9e33-4ba2-bf79-d0753fd0ced5","name":"AntwerpNet","owned":true,"subnets":[{"cidr":"10.10.1.0/24","gateway_ip":"10.10.1.1","id":"8b2345a1-acb8-486b-a147-ad309990f926","name":"AntwerpNet-subnet"}],"version":0}',1);
CREATE TABLE stub_public_ips (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "stub_public_ips" VALUES('TryStack/071629a5-7690-4c55-81e9-052e8ac61f11','TryStack','8.21.28.30','{"cloud":"TryStack","fixed_ip":"10.10.2.5","id":"071629a5-7690-4c55-81e9-052e8ac61f11","instance_id":"850faba9-bbec-47ae-befb-56e387242592","name":"8.21.28.30","network_id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","owned":true,"port_id":"2a52ae8c-141b-485c-9c94-ec39bfe70e33","router_id":null,"version":0}',2);
CREATE TABLE stub_routers (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "stub_routers" VALUES('TryStack/38c2c398-e02c-4712-ac09-5a0dbbdc4eaf','TryStack','LondonGateway','{"cloud":"TryStack","gateway_network_id":"2e0fdbb3-62ae-4269-a3d3-e981e3dca2f4","id":"38c2c398-e02c-4712-ac09-5a0dbbdc4eaf","interface_network_ids":["9b0941fd-e158-4fa2-99d5-2d942a28e08b"],"name":"LondonGateway","owned":true,"version":0}',2);
CREATE TABLE stub_security_groups (
	"key" VARCHAR(255) NOT NULL, 
	cloud VARCHAR(64), name VARCHAR(191), data TEXT, version INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "stub_security_groups" VALUES('TryStack/d530486d-a278-47bd-9de8-aa49dca1995a','TryStack','default','{"cloud":"TryStack","description":"Default security group","id":"d530486d-a278-47bd-9de8-aa49dca1995a","name":"default","owned":false,"rules":[],"version":0}',1);
INSERT INTO "stub_security_groups" VALUES('TryStack/5f2e3686-d0c8-4549-b083-5aa33bfc4700','TryStack','public_ssh','{"cloud":"TryStack","description":"SSH from anywhere (MiniCloud)","id":"5f2e3686-d0c8-4549-b083-5aa33bfc4700","name":"public_ssh","owned":true,"rules":[{"direction":"ingress","ethertype":"IPv4","port_max":22,"port_min":22,"protocol":"tcp","remote_ip_prefix":"0.0.0.0/0"},{"direction":"ingress","ethertype":"IPv6","port_max":22,"port_min":22,"protocol":"tcp","remote_ip_prefix":"::/0"}],"version":0}',3);
CREATE INDEX ix_clouds_cloud ON clouds (cloud);
CREATE INDEX ix_clouds_name ON clouds (name);
CREATE INDEX ix_clusters_cloud ON clusters (cloud);
CREATE INDEX ix_clusters_name ON clusters (name);
CREATE INDEX ix_networks_cloud ON networks (cloud);
CREATE INDEX ix_networks_name ON networks (name);
CREATE INDEX ix_routers_cloud ON routers (cloud);
CREATE INDEX ix_routers_name ON routers (name);
CREATE INDEX ix_instances_cloud ON instances (cloud);
CREATE INDEX ix_instances_name ON instances (name);
CREATE INDEX ix_public_ips_cloud ON public_ips (cloud);
CREATE INDEX ix_public_ips_name ON public_ips (name);
CREATE INDEX ix_security_groups_cloud ON security_groups (cloud);
CREATE INDEX ix_security_groups_name ON security_groups (name);
CREATE INDEX ix_keypairs_cloud ON keypairs (cloud);
CREATE INDEX ix_keypairs_name ON keypairs (name);
CREATE INDEX ix_images_cloud ON images (cloud);
CREATE INDEX ix_images_name ON images (name);
CREATE INDEX ix_flavors_cloud ON flavors (cloud);
CREATE INDEX ix_flavors_name ON flavors (name);
CREATE INDEX ix_changes_cloud ON changes (cloud);
CREATE INDEX ix_changes_name ON changes (name);
CREATE INDEX ix_intents_cloud ON intents (cloud);
CREATE INDEX ix_intents_name ON intents (name);
CREATE INDEX ix_drifts_cloud ON drifts (cloud);
CREATE INDEX ix_drifts_name ON drifts (name);
CREATE INDEX ix_stub_networks_cloud ON stub_networks (cloud);
CREATE INDEX ix_stub_networks_name ON stub_networks (name);
CREATE INDEX ix_stub_routers_cloud ON stub_routers (cloud);
CREATE INDEX ix_stub_routers_name ON stub_routers (name);
CREATE INDEX ix_stub_instances_cloud ON stub_instances (cloud);
CREATE INDEX ix_stub_instances_name ON stub_instances (name);
CREATE INDEX ix_stub_public_ips_cloud ON stub_public_ips (cloud);
CREATE INDEX ix_stub_public_ips_name ON stub_public_ips (name);
CREATE INDEX ix_stub_security_groups_cloud ON stub_security_groups (cloud);
CREATE INDEX ix_stub_security_groups_name ON stub_security_groups (name);
CREATE INDEX ix_stub_keypairs_cloud ON stub_keypairs (cloud);
CREATE INDEX ix_stub_keypairs_name ON stub_keypairs (name);
COMMIT;
