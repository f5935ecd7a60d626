"""The pipeline's Chef identity: by default a dedicated organization client, not ``pivotal`` (the
superuser of a self-managed Chef Infra Server), and the generated README shows how to give it only
the rights an upload needs. The knife commands follow knife's own banners
(github.com/chef/chef knife/lib/chef/knife/{client_create,group_create,group_add,acl_add,
acl_bulk_add}.rb; acl_base.rb lists the permissions create, read, update, delete, grant), and the
containers an upload creates objects in are ``cookbooks`` and ``sandboxes`` (knife-acl's README,
github.com/seth/knife-acl: "Two containers are used when creating (uploading) cookbooks")."""

from __future__ import annotations

import re

import yaml

from tests.conftest import Bake


def test_the_default_identity_is_a_dedicated_client_not_the_superuser(bake: Bake) -> None:
    repo = bake()
    configs = [yaml.safe_load(path.read_text("utf-8")) for path in repo.glob(".chef/*/config.yml")]
    assert configs
    assert {config["node_name"] for config in configs} == {"chef-pipeline"}


def test_the_readme_creates_that_identity_with_upload_rights_only(bake: Bake) -> None:
    repo = bake(chef_user="cookbook-bot")
    readme = (repo / "README.md").read_text("utf-8")
    assert "knife client create cookbook-bot " in readme
    assert "knife group add client cookbook-bot cookbook-uploaders" in readme
    grants = re.findall(r"^knife acl (?:bulk )?add group cookbook-uploaders (\S+) (\S+) (\S+)",
                        readme, re.MULTILINE)
    assert {(kind, name) for kind, name, _ in grants} == {
        ("containers", "cookbooks"), ("containers", "sandboxes"), ("cookbooks", "'.*'")}
    rights = {right for _, _, listed in grants for right in listed.split(",")}
    assert rights <= {"create", "read", "update"}
