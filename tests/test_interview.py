"""The interview as a newcomer lives it: `airbox install` on a real pseudo-terminal.

pexpect drives the real executable on a pty (so stdin is a terminal and questionary
draws its real screens) against fake kind/helm/kubectl, the real Docker Engine and a
fake control plane on 127.0.0.1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

from airbox.config.prompts import Prompter
from tests import answers_factory as af
from tests.fake_control_plane import FakeControlPlane, fake_cp  # noqa: F401
from tests.helpers import Keys, airbox_bin
from tests.installer import Installer
from tests.test_preflight import canned  # noqa: F401

ENTER = "\r"
DOWN = "\x1b[B"
CTRL_C = "\x03"
CLEAR = "\x15"  # Ctrl-U: clears the line (the default) in prompt_toolkit


class Session:
    """One `airbox` run on a pty, with a transcript for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        # No cursor position requests: pexpect would never answer them.
        env = {
            **env,
            "TERM": "xterm-256color",
            "COLUMNS": "160",
            "LINES": "50",
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        self.log = log.open("a", encoding="utf-8")
        self.child = pexpect.spawn(
            airbox_bin(), args, env=env, encoding="utf-8", timeout=60, dimensions=(50, 160)
        )
        self.child.logfile_read = self.log

    def expect(self, pattern: str | list[str], timeout: float = 60) -> int:
        if isinstance(pattern, str):
            return int(self.child.expect(pattern, timeout=timeout))
        # A new list: pexpect's list parameter is typed to hold compiled patterns and EOF too.
        return int(self.child.expect([*pattern], timeout=timeout))

    def send(self, text: str) -> None:
        self.child.send(text)

    def answer(self, question: str, keys: str) -> None:
        """Wait for the question, then type (the prompt is drawn before keys are read)."""
        self.expect(re.escape(question))
        self.send(keys)

    def finish(self, timeout: float = 180) -> int:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        self.log.close()
        return int(
            self.child.exitstatus
            if self.child.exitstatus is not None
            else 128 + (self.child.signalstatus or 0)
        )


def _transcript(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _past_preflight(session: Session, first_question: str) -> None:
    """The machine check comes first; this sandbox may fail one (say, too little memory):
    confirm going on, as --ignore-preflight-failures asks on a terminal."""
    if session.expect([re.escape("Continue anyway?"), re.escape(first_question)]) == 0:
        session.send("y")
        session.expect(re.escape(first_question))


@pytest.mark.timeout(600)
def test_interview_on_a_terminal_from_first_prompt_to_a_running_data_plane(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    inst, cp = installer, fake_cp
    client_id, client_secret = cp.registered_dataplane("the-dp")
    env = inst.env(NO_PROXY="127.0.0.1,localhost")
    args = ["install", "--control-plane-url", cp.url, "--ignore-preflight-failures"]
    log = tmp_path / "pty.log"

    # 1. Ctrl-C at a question: nothing installed, the answers so far kept (no secret).
    first = Session(args, env, log)
    _past_preflight(first, "Data plane name")
    first.send(CLEAR + inst.name + ENTER)
    first.answer("How should airbox connect", DOWN + ENTER)  # an existing data plane
    first.answer("Data plane client id", client_id + ENTER)
    first.expect(re.escape("Data plane client secret"))
    first.send(CTRL_C)
    assert first.finish() == 130, _transcript(log)
    text = _transcript(log)
    assert "Interrupted during the questions: nothing was installed or changed" in text
    assert "What was done is kept" not in text
    kept = inst.home / "interview.yaml"
    assert "kept in " + str(kept) in text.replace("\r\n", "").replace("\n", "")
    assert yaml.safe_load(kept.read_text()) == {
        "name": inst.name,
        "controlPlane": {"url": cp.url},
        "dataPlane": {"clientId": client_id},
        "credentials": "existing",
    }
    assert not inst.state.exists() and inst.fake.calls("kind") == []

    # 2. The re-run offers the kept answers as defaults; a refused secret is asked again;
    #    one answer is edited from the review screen; then the install runs to the end.
    second = Session(args, env, log)
    _past_preflight(second, "Data plane name")
    second.expect(re.escape(inst.name))  # the kept name, as default
    second.send(ENTER)
    second.answer("How should airbox connect", ENTER)  # the kept choice
    second.expect(re.escape("Data plane client id"))
    second.expect(re.escape(client_id))  # the kept id, as default
    second.send(ENTER)
    second.answer("Data plane client secret", "a-wrong-secret" + ENTER)
    # The platform answers a wrong data plane secret with 500 ("wrong, or it failed").
    second.expect("either they are wrong")
    second.answer("Data plane client id", ENTER)  # the typed id is the default
    second.answer("Data plane client secret", client_secret + ENTER)
    second.answer("Secrets manager", DOWN * 3 + ENTER)  # HashiCorp Vault
    second.answer(
        "HashiCorp Vault: Vault address", "https://vault.example.com:8200/v1/x" + ENTER
    )  # refused as typed
    second.expect("the Vault address is only scheme, host and port")
    second.send("\x7f" * 5 + ENTER)
    second.answer("HashiCorp Vault: Vault token", af.SECRETS["vault"] + ENTER)
    second.answer("Storage for logs and state", ENTER)  # none
    second.expect(re.escape("Review the settings"))
    second.expect(re.escape("Install, or edit an answer?"))
    # Rows: name, Airbyte URL, client id, client secret, secrets manager, Vault address…
    second.send(DOWN * 6 + ENTER)
    second.expect(re.escape("what VAULT_ADDR is set to"))  # its help line, then the question
    second.answer("Vault address", CLEAR + "https://vault2.example.com:8200" + ENTER)
    second.expect("vault2.example.com")  # the review, updated
    second.answer("Install, or edit an answer?", ENTER)
    second.expect(re.escape(f"Data plane {inst.name} is installed and running."), timeout=300)
    assert second.finish() == 0, _transcript(log)

    text = _transcript(log)
    # The secrets never showed, typed or reviewed; the access key id… is not asked here.
    assert client_secret not in text and af.SECRETS["vault"] not in text
    assert "********" in text
    saved: dict[str, Any] = yaml.safe_load((inst.state / "settings.yaml").read_text())
    assert saved["secretsManager"]["vault"]["address"] == "https://vault2.example.com:8200"
    assert saved["name"] == inst.name
    secret = yaml.safe_load((inst.state / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_ID"] == client_id
    assert secret["DATAPLANE_CLIENT_SECRET"] == client_secret
    assert not kept.exists()  # used up
    tokens = cp.calls("POST", "/api/v1/dataplanes/token")
    assert len(tokens) == 2  # the wrong, then the right
    assert inst.revisions()[-1]["status"] == "deployed"


@pytest.mark.parametrize("mode", ["terminal", "--yes", "--dry-run", "preflight"])
def test_a_misspelled_key_exits_2_in_every_mode_with_the_suggestion(
    installer: Installer, tmp_path: Path, mode: str
) -> None:
    inst = installer
    data = inst.answers()
    data["secretManager"] = data.pop("secretsManager")
    data["storage"]["bukcet"] = data["storage"].pop("bucket")
    answers = str(inst.write(data))
    args = {
        "terminal": ["install", "--answers", answers],
        "--yes": ["install", "--answers", answers, "--yes"],
        "--dry-run": [
            "install",
            "--answers",
            answers,
            "--dry-run",
            "--output-dir",
            str(tmp_path / "out"),
        ],
        "preflight": ["preflight", "--answers", answers],
    }[mode]
    log = tmp_path / "pty.log"
    session = Session(args, inst.env(), log)
    code = session.finish(timeout=60)
    text = _transcript(log)
    assert code == 2, text
    assert "secretManager: is not a known setting (fix: did you mean secretsManager?" in text
    assert "storage.bukcet: is not a known setting (fix: did you mean bucket?" in text
    assert "Data plane name" not in text and "Continue anyway" not in text  # nothing asked
    assert not inst.state.exists() and not (tmp_path / "out").exists()


def test_the_same_preflight_warnings_print_in_full_once_then_as_one_line(
    tmp_path: Path,
    canned: Any,  # noqa: F811
) -> None:
    from tests.test_preflight import _ctx, _report, _stderr, _step

    canned(_report("pass", "warn"))
    ctx, line = _ctx(tmp_path)
    _step(ctx, line)
    assert "Check 1: finding 1" in _stderr(ctx) and "fix: fix 1" in _stderr(ctx)
    again, line = _ctx(tmp_path)
    _step(again, line)
    err = _stderr(again)
    assert "fix: fix 1" not in err
    assert "1 warning, the same as last time" in err and "`airbox preflight` shows them" in err


def test_the_bundle_masks_values_never_structure() -> None:
    from airbox.redact import MASK, scrub_mapping

    settings = {
        "secretsManager": {
            "type": "AWS_SECRET_MANAGER",
            "awsSecretManager": {
                "region": "eu-west-1",
                "authenticationType": "credentials",
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "secretAccessKey": "s3cr3t-value",
            },
        },
        "credentials": ["one-secret", {"note": "plain"}],
    }
    assert scrub_mapping(settings) == {
        "secretsManager": {
            "type": "AWS_SECRET_MANAGER",
            "awsSecretManager": {
                "region": "eu-west-1",
                "authenticationType": "credentials",
                "accessKeyId": MASK,
                "secretAccessKey": MASK,
            },
        },
        "credentials": [MASK, {"note": "plain"}],
    }


def _tools_probe(environ: dict[str, str], *, kind: bool = True) -> Any:
    from airbox.ops.preflight import checks as ck
    from airbox.ops.preflight import facts as fx
    from tests.test_preflight import FakeFacts

    subject = fx.Subject(name="dp") if kind else fx.Subject(name="dp", kube_context="prod")
    # Nothing on PATH or downloaded before (unless set in ``environ``).
    return ck.Probe(subject, FakeFacts(tools={}), fx.Endpoints(timeout=1.0), None, environ)


def test_preflight_tools_pass_when_set_and_fail_when_neither_there_nor_downloadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airbox.cluster import toolchain
    from airbox.ops.preflight import checks as ck
    from airbox.ops.preflight.http_probes import HttpAnswer

    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    given = {f"AIRBOX_{t.upper()}": str(tool) for t in toolchain.TOOLS}
    verdict = ck.check_tools(_tools_probe(given))
    assert verdict.outcome == "pass" and "kind (AIRBOX_KIND)" in verdict.finding

    # Nothing on PATH, nothing downloaded, and the download hosts do not resolve.
    probe = _tools_probe({})
    asked: list[str] = []

    def unreachable(url: str) -> HttpAnswer:
        asked.append(url)
        return HttpAnswer(url, error="dns")

    monkeypatch.setattr(probe, "http", unreachable)
    verdict = ck.check_tools(probe)
    assert verdict.outcome == "fail"
    assert "kind is not installed and its download host github.com cannot be reached" in (
        verdict.finding
    )
    assert verdict.fix is not None and "set AIRBOX_KIND to its path" in verdict.fix
    assert len(asked) == 3
    # Reachable download hosts: fine, downloaded during the install.
    probe = _tools_probe({}, kind=False)
    monkeypatch.setattr(probe, "http", lambda url: HttpAnswer(url, 302))
    verdict = ck.check_tools(probe)
    assert verdict.outcome == "pass" and "kind" not in verdict.finding
    assert "helm (downloaded at install from get.helm.sh)" in verdict.finding


# ------------------------------------------------------------- sources, in-process


def _saved(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    from airbox.config.gather import save
    from airbox.paths import StateDir

    data = af.answers("vault", "s3-keys", directory=tmp_path, name="dp1")
    data.update(changes)
    save(StateDir.for_name("dp1"), data)
    return data


def test_an_answers_file_layers_over_the_saved_settings_and_the_sources_are_said(
    tmp_path: Path,
) -> None:
    from airbox.config.gather import Inputs, gather

    saved = _saved(tmp_path)
    fix = af.write_answers(tmp_path / "fix.yaml", {"dataPlane": {"clientSecret": "corrected"}})
    said: list[str] = []
    merged, settings = gather(Inputs(fix, {}), environ={}, say=said.append)
    assert settings.name == "dp1"
    assert settings.data_plane is not None
    assert settings.data_plane.client_id == af.SECRETS["dp_id"]
    assert settings.data_plane.client_secret == "corrected"
    assert merged["secretsManager"] == saved["secretsManager"]
    assert merged["storage"] == saved["storage"]
    assert said == [
        "Settings from (later ones win): saved settings of dp1 ("
        f"{tmp_path / 'home' / '.airbyte' / 'airbox' / 'dp1'}); answers file {fix}"
    ]

    # Another choice in the file replaces the saved answers of the old one.
    other = af.write_answers(
        tmp_path / "other.yaml",
        {
            "secretsManager": af.secrets_manager("aws-instance-profile", tmp_path),
            "registration": {"clientId": "app-id", "clientSecret": "app-secret-1234"},
        },
    )
    merged, settings = gather(Inputs(other, {}), environ={})
    assert "vault" not in merged["secretsManager"]
    assert "dataPlane" not in merged and settings.registration is not None


def test_data_plane_credentials_from_the_environment(tmp_path: Path) -> None:
    from airbox.config.gather import Inputs, gather

    data = af.answers(directory=tmp_path)
    del data["dataPlane"]
    path = af.write_answers(tmp_path / "a.yaml", data)
    said: list[str] = []
    _, settings = gather(
        Inputs(path, {}),
        say=said.append,
        environ={"DATAPLANE_CLIENT_ID": "env-dp-id", "DATAPLANE_CLIENT_SECRET": "env-dp-secret-1"},
    )
    assert settings.data_plane is not None
    assert (settings.data_plane.client_id, settings.data_plane.client_secret) == (
        "env-dp-id",
        "env-dp-secret-1",
    )
    assert "environment (DATAPLANE_CLIENT_ID, DATAPLANE_CLIENT_SECRET)" in said[0]


def test_reconfigure_walks_the_saved_answers_as_defaults(
    tmp_path: Path, keys: tuple[Keys, Prompter]
) -> None:
    from airbox.config.gather import Inputs, gather

    k, prompter = keys
    saved = _saved(tmp_path)
    k.type(
        ENTER,  # where Airbyte runs: the saved (Cloud)
        ENTER,  # credentials: the saved kind (an existing data plane)
        ENTER,  # client id: the saved one
        ENTER,  # client secret: Enter keeps the saved one
        ENTER,  # secrets manager: the saved (Vault)
        CLEAR + "https://vault.internal:8200" + ENTER,  # the one answer changed
        ENTER,  # path prefix (optional, saved): kept
        ENTER,  # Vault token: kept
        ENTER,  # storage: the saved (S3)
        ENTER,  # bucket: the saved one
        ENTER,  # same credentials as…? (not AWS SM: not asked) → region
        ENTER,  # authentication: the saved
        ENTER,  # access key id: the saved
        ENTER,  # secret access key: kept
    )
    merged, _ = gather(
        Inputs(None, {"name": "dp1"}, interactive=True, reconfigure=True),
        prompter=prompter,
        environ={},
    )
    expected = {**saved, "controlPlane": {"edition": "cloud"}}
    expected["secretsManager"] = {
        **saved["secretsManager"],
        "vault": {**saved["secretsManager"]["vault"], "address": "https://vault.internal:8200"},
    }
    assert merged == expected


def test_storage_offers_the_secrets_managers_aws_credentials(
    tmp_path: Path, keys: tuple[Keys, Prompter]
) -> None:
    from airbox.config.interview import fill_missing

    k, prompter = keys
    answers = af.answers("aws-keys", directory=tmp_path)
    # Airbyte Cloud, S3, the bucket, then "the same credentials?": yes (the default).
    k.type(ENTER, DOWN + ENTER, "my-airbyte-bucket" + ENTER, ENTER)
    filled = fill_missing(answers, prompter)
    sm = answers["secretsManager"]["awsSecretManager"]
    assert filled["storage"] == {
        "type": "s3",
        "bucket": "my-airbyte-bucket",
        "s3": {
            key: sm[key]
            for key in ("region", "authenticationType", "accessKeyId", "secretAccessKey")
        },
    }


def test_typos_in_names_and_ids_are_refused_all_at_once(tmp_path: Path) -> None:
    from airbox.config.settings import validate

    data = af.answers("aws-keys", "s3-keys", directory=tmp_path)
    data["secretsManager"]["awsSecretManager"]["accessKeyId"] = "ABCDEFGHIJ"
    data["storage"]["bucket"] = "Acme_Airbyte"
    found = {p.field: p for p in validate(data)}
    assert found["secretsManager.awsSecretManager.accessKeyId"].message == (
        "'ABCDEFGHIJ' is not an AWS access key id"
    )
    assert "starting with AKIA" in str(found["secretsManager.awsSecretManager.accessKeyId"].fix)
    assert found["storage.bucket"].message == "'Acme_Airbyte' is not a valid name"
    assert "S3 bucket names are 3-63 lowercase" in str(found["storage.bucket"].fix)

    vault = af.answers("vault", "azure", directory=tmp_path)
    vault["secretsManager"]["vault"]["address"] = "https://vault.example.com/v1/secret"
    vault["storage"]["bucket"] = "a--b"
    found = {p.field: p for p in validate(vault)}
    assert "only scheme, host and port" in found["secretsManager.vault.address"].message
    assert "Azure container names" in str(found["storage.bucket"].fix)

    azure = af.answers("azure-key-vault", "gcs", directory=tmp_path)
    azure["secretsManager"]["azureKeyVault"]["tenantId"] = "my-tenant"
    azure["storage"]["bucket"] = "googlebucket"
    found = {p.field: p for p in validate(azure)}
    assert (
        "'my-tenant' is not an id of the form"
        in found["secretsManager.azureKeyVault.tenantId"].message
    )
    assert "Cloud Storage bucket names" in str(found["storage.bucket"].fix)


def test_the_region_question_shows_its_choices_before_any_key(tmp_path: Path) -> None:
    """A filterable list that looked empty until Tab was pressed: now the regions show as
    the question opens, and typing narrows them."""
    import sys

    script = tmp_path / "ask.py"
    script.write_text(
        "from airbox.config.prompts import Prompter\n"
        "print('chosen:', Prompter().autocomplete("
        "'Region (pick one, or type a new name to create it)', "
        "['eu-private', 'us-west-private']))\n"
    )
    log = tmp_path / "pty.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    child = pexpect.spawn(
        sys.executable, [str(script)], env=env, encoding="utf-8", timeout=30, dimensions=(30, 120)
    )
    child.logfile_read = log.open("a", encoding="utf-8")
    child.expect(re.escape("Region (pick one"))
    child.expect("us-west-private")  # shown with no key pressed
    child.send("us-west-private\r")
    child.expect("chosen: us-west-private")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, _transcript(log)


def test_identifiers_are_typed_in_the_clear_and_secrets_hidden() -> None:
    from airbox.config.settings import SECRETS_MANAGERS, STORAGES

    aws = SECRETS_MANAGERS["AWS_SECRET_MANAGER"]
    assert not aws.field("accessKeyId").masked and aws.field("secretAccessKey").masked
    assert not STORAGES["s3"].field("accessKeyId").masked
    azure = SECRETS_MANAGERS["AZURE_KEY_VAULT"]
    assert not azure.field("clientId").masked and azure.field("clientSecret").masked
    # Every question has its one line of help saying where the value is found.
    specs = [
        SECRETS_MANAGERS[t]
        for t in ("AWS_SECRET_MANAGER", "GOOGLE_SECRET_MANAGER", "AZURE_KEY_VAULT", "VAULT")
    ]
    for spec in [*specs, STORAGES["s3"], STORAGES["gcs"], STORAGES["azure"]]:
        if True:
            for field in spec.fields:
                if field.required or field.kind == "choice":
                    assert field.where, (spec.type, field.key)


# ------------------------------------------ every rule at its question (issue 21)


def _dry_run(inst: Installer, tmp_path: Path, *extra: str) -> list[str]:
    return ["install", *extra, "--dry-run", "--output-dir", str(tmp_path / "out")]


def _review(text: str) -> list[str]:
    """The lines of the last review screen, as printed."""
    block = text.rsplit("Review the settings", 1)[1].split("Install, or edit", 1)[0]
    return [line.rstrip() for line in block.replace("\r", "").split("\n")[1:] if line.strip()]


@pytest.mark.timeout(300)
def test_a_short_secret_is_refused_at_its_prompt_and_the_review_speaks_in_words(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    inst, cp = installer, fake_cp
    client_id, client_secret = cp.registered_dataplane("short-secret-dp")
    log = tmp_path / "pty.log"
    s = Session(
        _dry_run(inst, tmp_path, "--control-plane-url", cp.url),
        inst.env(NO_PROXY="127.0.0.1,localhost"),
        log,
    )
    _past_preflight(s, "Data plane name")
    s.send(CLEAR + inst.name + ENTER)
    s.answer("How should airbox connect", DOWN + ENTER)  # an existing data plane
    s.answer("Data plane client id", client_id + ENTER)
    s.answer("Data plane client secret", "abc" + ENTER)
    # Refused on the spot, saying why; the same question stays open (not a refusal at
    # the end of the questions).
    assert s.expect(["too short to be a credential", re.escape("Secrets manager")]) == 0
    s.send(CLEAR + client_secret + ENTER)
    s.answer("Secrets manager", ENTER)  # AWS Secrets Manager
    s.answer("AWS region", "us-east-1" + ENTER)
    s.answer("How airbox signs in to AWS", ENTER)  # access keys
    s.answer("AWS access key id", af.SECRETS["sm_access"] + ENTER)
    s.answer("AWS secret access key", "short" + ENTER)
    assert s.expect(["too short to be a credential", re.escape("Storage for logs")]) == 0
    s.send(CLEAR + af.SECRETS["sm_secret"] + ENTER)
    s.answer("Storage for logs and state", ENTER)  # none
    s.answer("Install, or edit an answer?", ENTER)
    s.expect(re.escape("Nothing was installed (dry run)."))
    assert s.finish() == 0, _transcript(log)

    text = _transcript(log)
    assert client_secret not in text and af.SECRETS["sm_secret"] not in text
    assert "asked again" not in text
    rows = _review(text)
    assert all(len(row) <= 80 for row in rows), rows
    # Values in the questions' words, not the YAML's.
    assert any(re.fullmatch(r"\s+How airbox signs in to AWS\s+Access keys", r) for r in rows)
    assert not any(row.endswith(" credentials") for row in rows), rows
    assert "Storage for logs and state" in text
    secret = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_SECRET"] == client_secret


@pytest.mark.timeout(300)
def test_a_self_managed_control_plane_asks_for_storage_and_a_final_refusal_asks_again(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`--edition enterprise` on a terminal asks for storage (no "None" offered) instead of
    exiting 2; an answer the final check refuses (the key file moved away while the review
    was on screen) is asked again, every other answer — secrets too — kept."""
    inst, cp = installer, fake_cp
    client_id, client_secret = cp.registered_dataplane("enterprise-dp")
    sa = af.service_account_file(tmp_path)
    log = tmp_path / "pty.log"
    s = Session(
        _dry_run(inst, tmp_path, "--edition", "enterprise", "--control-plane-url", cp.url),
        inst.env(NO_PROXY="127.0.0.1,localhost"),
        log,
    )
    _past_preflight(s, "Data plane name")
    s.send(CLEAR + inst.name + ENTER)
    s.answer("How should airbox connect", DOWN + ENTER)
    s.answer("Data plane client id", client_id + ENTER)
    s.answer("Data plane client secret", client_secret + ENTER)
    s.answer("Airbyte license key", af.SECRETS["license"] + ENTER)
    s.answer("Secrets manager", DOWN + ENTER)  # Google Secret Manager
    s.answer("Google Cloud project id", "my-project" + ENTER)
    s.answer("Path to the service account key", str(sa) + ENTER)
    s.expect(re.escape("is required with a self-managed (enterprise) control plane"))
    s.answer("Storage for logs and state", ENTER)  # the first: Amazon S3
    s.answer("Bucket", "acme-airbyte-logs" + ENTER)
    s.answer("AWS region", "us-east-1" + ENTER)
    s.answer("How airbox signs in to AWS", ENTER)
    s.answer("AWS access key id", af.SECRETS["s3_access"] + ENTER)
    s.answer("AWS secret access key", af.SECRETS["s3_secret"] + ENTER)
    s.expect(re.escape("Install, or edit an answer?"))
    moved = sa.rename(tmp_path / "moved.json")
    s.send(ENTER)
    s.expect(re.escape("credentialsJson: file ") + ".*" + re.escape("— asked again"))
    s.answer("Path to the service account key", str(moved) + ENTER)
    s.answer("Install, or edit an answer?", ENTER)
    s.expect(re.escape("Nothing was installed (dry run)."))
    assert s.finish() == 0, _transcript(log)

    text = _transcript(log)
    # After the refusal only that question, then the review again: nothing else retyped.
    again = text.split("— asked again", 1)[1].split("Review the settings", 1)[0]
    assert "Path to the service account key" in again
    for other in ("Data plane client", "license key", "Bucket", "AWS", "Data plane name"):
        assert other not in again, again
    assert "None: keep them inside the cluster" not in text
    assert "storage: is required" not in text.split("Data plane name")[0]
    secret = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_SECRET"] == client_secret  # typed once, kept
    assert secret["AIRBYTE_LICENSE_KEY"] == af.SECRETS["license"]
    assert secret["AWS_SECRET_ACCESS_KEY"] == af.SECRETS["s3_secret"]


@pytest.mark.timeout(300)
def test_ctrl_c_then_a_rerun_offers_every_non_secret_answer_and_the_registration_choice(
    installer: Installer,
    fake_cp: FakeControlPlane,  # noqa: F811
    tmp_path: Path,
) -> None:
    inst, cp = installer, fake_cp
    client_id, client_secret = cp.registered_dataplane("resumed-dp")
    env = inst.env(NO_PROXY="127.0.0.1,localhost")
    args = _dry_run(inst, tmp_path, "--control-plane-url", cp.url)
    log = tmp_path / "pty.log"
    first = Session(args, env, log)
    _past_preflight(first, "Data plane name")
    first.send(CLEAR + inst.name + ENTER)
    first.answer("How should airbox connect", DOWN + ENTER)  # already registered
    first.answer("Data plane client id", client_id + ENTER)
    first.answer("Data plane client secret", client_secret + ENTER)
    first.answer("Secrets manager", ENTER)  # AWS Secrets Manager
    first.answer("AWS region", "us-east-1" + ENTER)
    first.answer("How airbox signs in to AWS", ENTER)
    first.answer("AWS access key id", af.SECRETS["sm_access"] + ENTER)
    first.expect(re.escape("AWS secret access key"))
    first.send(CTRL_C)
    assert first.finish() == 130, _transcript(log)
    kept_file = inst.home / "interview.yaml"
    kept = kept_file.read_text()
    assert (kept_file.stat().st_mode & 0o777) == 0o600
    assert client_secret not in kept and af.SECRETS["sm_secret"] not in kept
    assert yaml.safe_load(kept) == {
        "name": inst.name,
        "controlPlane": {"url": cp.url},
        "dataPlane": {"clientId": client_id},
        "secretsManager": {
            "type": "AWS_SECRET_MANAGER",
            "awsSecretManager": {
                "region": "us-east-1",
                "authenticationType": "credentials",
                "accessKeyId": af.SECRETS["sm_access"],
            },
        },
        "credentials": "existing",
    }

    # The re-run: Enter through every offered default; only the secrets are typed.
    second = Session(args, env, log)
    _past_preflight(second, "Data plane name")
    second.expect(re.escape(inst.name))
    second.send(ENTER)
    second.answer("How should airbox connect", ENTER)  # the kept choice
    second.expect(re.escape("Data plane client id"))  # not the application's
    second.expect(re.escape(client_id))  # the kept id, as default
    second.send(ENTER)
    second.answer("Data plane client secret", client_secret + ENTER)
    second.answer("Secrets manager", ENTER)
    second.answer("AWS region", ENTER)
    second.answer("How airbox signs in to AWS", ENTER)
    second.expect(re.escape("AWS access key id"))
    second.expect(re.escape(af.SECRETS["sm_access"]))
    second.send(ENTER)
    second.answer("AWS secret access key", af.SECRETS["sm_secret"] + ENTER)
    second.answer("Storage for logs and state", ENTER)
    second.answer("Install, or edit an answer?", ENTER)
    second.expect(re.escape("Nothing was installed (dry run)."))
    assert second.finish() == 0, _transcript(log)
    secret = yaml.safe_load((tmp_path / "out" / "secrets.yaml").read_text())["stringData"]
    assert secret["DATAPLANE_CLIENT_ID"] == client_id
    assert secret["AWS_SECRET_MANAGER_ACCESS_KEY_ID"] == af.SECRETS["sm_access"]
    assert secret["AWS_SECRET_MANAGER_SECRET_ACCESS_KEY"] == af.SECRETS["sm_secret"]
