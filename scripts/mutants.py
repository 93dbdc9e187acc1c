"""Hand-written mutants of the six modules that carry airbox's promises.

Each mutant is one deliberate, realistic mistake: the exact ``original`` text (it must
occur exactly once in ``path``), its ``replacement``, what the mistake would mean for a
user, and the tests that should catch it: files, or single tests (``file::test``) where
the file takes minutes (only those run, for speed). A mutant
whose behaviour cannot differ from the original's, as far as a user can tell, carries
``equivalent`` (the reason) and is listed but not run. ``scripts/mutate.py`` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    module: str
    path: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...] = ()
    equivalent: str | None = None


# The tests that pin each module's promises (a mutant may name others).
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "redact": ("airbox/redact.py", ("tests/test_redact.py",)),
    "settings": ("airbox/config/settings.py", ("tests/test_settings.py",)),
    "manifests": ("airbox/render/manifests.py", ("tests/test_manifests.py",)),
    # Each install mutant names the one test that pins it (the file takes a minute or more).
    # A package: a mutant names its file (``where``) when it is not steps_cluster.py.
    "install": ("airbox/ops/install/steps_cluster.py", ("tests/test_install_steps.py",)),
    # A package: a mutant names its file (``where``) when it is not now.py.
    "status": (
        "airbox/ops/status/now.py",
        ("tests/test_status_checks.py", "tests/test_status_contract.py"),
    ),
    # Mutants that only tests/test_registration.py pins name their test there.
    "registration": ("airbox/controlplane/registration.py", ("tests/test_registration_rules.py",)),
}


# One test of install's step tests, for each install mutant (the whole file takes minutes).
IS = "tests/test_install_steps.py::"
RT = "tests/test_registration.py::"
# The private registry (answers images) is pinned in one file of its own.
RG = "tests/test_registry.py"
# The proxy (answers network) likewise.
PX = "tests/test_proxy.py"
# Installing from an offline bundle: one test each (the file takes minutes).
OI = "tests/test_offline_install.py::"


def _m(
    module: str,
    original: str,
    replacement: str,
    description: str,
    tests: tuple[str, ...] = (),
    equivalent: str | None = None,
    where: str | None = None,
) -> Mutant:
    path, default_tests = MODULES[module]
    if where is not None:
        # A file beside the module's, or (with a '/') a path from the repository's root:
        # code that moved to another layer keeps its mutants (and the module's tests).
        path = where if "/" in where else str(Path(path).with_name(where))
    return Mutant(
        module, path, original, replacement, description, tests or default_tests, equivalent
    )


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ redact
    _m(
        "redact",
        r'r"(?i)(authorization:\s*bearer\s+)[A-Za-z0-9._~+/=-]+"',
        r'r"(?i)(authorization:\s*token\s+)[A-Za-z0-9._~+/=-]+"',
        "Bearer tokens in tool output are no longer masked",
    ),
    _m(
        "redact",
        r're.compile(r"\bAKIA[0-9A-Z]{16}\b"),',
        r're.compile(r"\bAKIA[0-9A-Z]{20}\b"),',
        "AWS access key ids (AKIA...) are no longer masked",
    ),
    _m(
        "redact",
        "self._values.add(base64.b64encode(value.encode()).decode())",
        "self._values.add(value)",
        "the base64 form of a secret (kubectl get secret -o yaml) is no longer masked",
    ),
    _m(
        "redact",
        "if len(line) >= 12:",
        "if len(line) >= 1200:",
        "lines of a multi-line secret (service-account JSON) leak one by one",
    ),
    _m(
        "redact",
        "if not value or len(value) < _MIN_SECRET_LEN:",
        "if not value or len(value) < 40:",
        "secrets shorter than 40 characters are not registered",
    ),
    _m(
        "redact",
        "key=len, reverse=True",
        "key=len, reverse=False",
        "a secret containing another is masked piecewise, leaking its tail",
    ),
    _m(
        "redact",
        "return self._mask_patterns(self.mask(text), (*_PATTERNS, _URL_PASSWORD_PART))",
        "return self._mask_patterns(text, (*_PATTERNS, _URL_PASSWORD_PART))",
        "mask_all forgets the known values (only patterns)",
    ),
    _m(
        "redact",
        "return self._mask_patterns(self.mask(text), (*_SHAPES, _URL_PASSWORD_PART))",
        "return self._mask_patterns(text, (*_SHAPES, _URL_PASSWORD_PART))",
        "mask_shapes (airbox's own messages) forgets the known values",
    ),
    _m(
        "redact",
        'r"(?i)(\\"?(?<![A-Za-z_])[A-Za-z_]*(?:secret|password|passwd|',
        'r"(?i)(\\"?(?<![A-Za-z_])[A-Za-z_]*(?:secret|passwd|',
        "password=... in tool output is no longer masked",
    ),
    _m(
        "redact",
        're.compile(r"(AccountKey=)[^;\\s\\"]+"),',
        're.compile(r"(AccountKeyX=)[^;\\s\\"]+"),',
        "Azure connection-string AccountKey is no longer masked",
    ),
    _m(
        "redact",
        're.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----',
        're.compile(r"-----BEGIN [A-Z ]*PRIVATE  KEY-----',
        "PEM private keys in text are no longer masked",
    ),
    _m(
        "redact",
        '_URL_PASSWORD_PART = re.compile(r"(://[^:/@\\s]*:)[^@\\s/]+(?=@)")',
        '_URL_PASSWORD_PART = re.compile(r"(://[^:/@\\s]*:)[^@\\s/]+(?=@@)")',
        "passwords in URLs (https://user:pass@host) are no longer masked",
    ),
    _m(
        "redact",
        '_URL_PASSWORD_PART = re.compile(r"(://[^:/@\\s]*:)[^@\\s/]+(?=@)")',
        '_URL_PASSWORD_PART = re.compile(r"(://[^:/@\\s]+:)[^@\\s/]+(?=@)")',
        "the password of a URL with no user name (redis://:password@host) is not masked",
    ),
    _m(
        "redact",
        '                and value not in (None, "")\n',
        '                and value in (None, "")\n',
        "secret-named keys of Helm values/manifests in bundles are not scrubbed",
    ),
    _m(
        "redact",
        "            else scrub_mapping(item)\n",
        "            else item\n",
        "secrets inside lists of a mapping are not scrubbed",
    ),
    _m(
        "redact",
        "if _REFERENCE_KEY.search(key):\n        return False",
        "if False:\n        return False",
        "references to Secret keys (clientSecretSecretKey) are taken for secrets",
    ),
    _m(
        "redact",
        "if not rest or not rest[0].isalpha() or (rest[0].isupper() and not shouting):",
        "if True:",
        "a key that only contains a secret's name (tokenizer, secretary) is taken for a secret",
    ),
    _m(
        "redact",
        r'r"(?i)(secret|password|passwd|passphrase|token|licensekey|',
        r'r"(?i)(secret|password|passwd|passphrase|licensekey|',
        "an authToken value in a mapping is not scrubbed",
    ),
    _m(
        "redact",
        "return [self.mask(arg) for arg in argv]",
        "return list(argv)",
        "known secrets in a command line are shown as they are",
    ),
    _m(
        "redact",
        "text = text.replace(value, MASK)",
        "text = text.replace(value, MASK, 1)",
        "only the first occurrence of a known secret in a text is masked",
    ),
    _m(
        "redact",
        "or bool(_URL_PASSWORD.search(text))",
        "or False",
        "a URL with a password but no user name (https://:token@host) is not a credential",
        equivalent="mask_all's _URL_PASSWORD_PART matches every URL password _URL_PASSWORD "
        "does (an empty user name included), so mask_all already changes the text; "
        "only a password that is literally ******** would differ",
    ),
    _m(
        "redact",
        "refname|refkey|ref_name|ref_key)$",
        "refname|refkey)$",
        "the launcher's VAULT_AUTH_TOKEN_REF_NAME-style settings are taken for secrets: a "
        "values: override of one is refused, and bundles mask the Secret names they hold",
    ),
    _m(
        "redact",
        "(?<![A-Za-z_])[A-Za-z_]*(?:secret",
        "[A-Za-z_]*(?:secret",
        "a long error text from the control plane (a 3 MB title) makes masking the run log "
        "quadratic: the command hangs",
        (
            "tests/test_check_first.py::"
            "test_a_huge_error_title_is_cut_on_screen_and_kept_whole_in_the_log",
        ),
    ),
    # ---------------------------------------------------------------- settings
    _m(
        "settings",
        '        ("registration", "clientSecret"),\n',
        "",
        "the application's client secret is saved in settings.yaml, not credentials.yaml",
        ("tests/test_settings.py",),
        where="specs.py",
    ),
    _m(
        "settings",
        'if fspec.secret and fspec.kind != "json-file":',
        'if fspec.secret and fspec.kind == "json-file":',
        "secrets-manager and storage secrets are saved in settings.yaml",
        where="specs.py",
    ),
    _m(
        "settings",
        "MAX_NAME_LENGTH = 63 - len(CLUSTER_PREFIX) - len(NODE_SUFFIX)",
        "MAX_NAME_LENGTH = 63 - len(CLUSTER_PREFIX)",
        "a name too long for the node's host name is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        'if fspec.kind == "aws-region" and not _AWS_REGION.match(str(value)):',
        'if fspec.kind == "aws-region" and not str(value):',
        "any text is accepted as an AWS region",
        where="rules.py",
    ),
    _m(
        "settings",
        'if allow_http == "never" or (allow_http == "loopback" and not loopback):',
        'if allow_http == "never":',
        "a plain http:// control plane URL on the network is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        "if parts.username or parts.password:",
        "if parts.username and parts.password:",
        "a URL carrying a user name or a password is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        "return ipaddress.ip_address(host).is_loopback",
        "return ipaddress.ip_address(host).is_private",
        "http:// to a private (not loopback) address is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        'return url.rstrip("/") + "/api/public/v1"',
        'return url.rstrip("/") + "/api/v1"',
        "the self-managed API URL is derived wrongly",
    ),
    _m(
        "settings",
        "return {key: given.get(key, first) for key in BUCKET_KEYS}",
        'return {key: given.get(key, "") for key in BUCKET_KEYS}',
        "bucket uses left out get no bucket instead of the first one given",
        where="rules.py",
    ),
    _m(
        "settings",
        'if not isinstance(data, dict) or data.get("type") != "service_account":',
        "if not isinstance(data, dict):",
        "any JSON object is accepted as a service-account key",
        where="rules.py",
    ),
    _m(
        "settings",
        '("project_id", "private_key", "client_email")',
        '("project_id", "client_email")',
        "a service-account key without its private key is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        "return str(section.get(other) or _default_of(self.when[0], section)) == wanted",
        'return str(section.get(other) or "") == wanted',
        "access keys are not required when authenticationType is left to its default",
        where="specs.py",
    ),
    _m(
        "settings",
        "if require_credentials and not has_dp and not has_reg:",
        "if not require_credentials and not has_dp and not has_reg:",
        "an install without any credential is accepted",
        where="validate.py",
    ),
    _m(
        "settings",
        'if edition == "enterprise" and not _nonempty(answers.get("licenseKey")):',
        'if edition == "Enterprise" and not _nonempty(answers.get("licenseKey")):',
        "a self-managed install without a license key is accepted",
        where="validate.py",
    ),
    _m(
        "settings",
        "        if key not in known:\n",
        "        if key not in known and not key:\n",
        "misspelt fields of a section are silently ignored",
        where="section.py",
    ),
    _m(
        "settings",
        "(isinstance(key, str) and is_secret_key(key))",
        "(isinstance(key, str) and key == 'never')",
        "a credential in plain Helm values (values.yaml) is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        r'_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")',
        r'_SEMVER = re.compile(r"^\d+\.\d+(\.\d+)?")',
        "chart versions such as 1.8 or '1.8.1 x' are accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        'namespace=answers.get("namespace") or DEFAULT_NAMESPACE,',
        'namespace=answers.get("namespace") or "default",',
        "the default namespace is not airbyte",
    ),
    _m(
        "settings",
        r'_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")',
        r'_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9-])?$")',
        "a name ending in '-' (not a DNS label) is accepted",
        where="rules.py",
    ),
    _m(
        "settings",
        (
            '                "logs from there, and a store inside this VM is out of its reach",\n'
            "                missing=True,\n"
        ),
        '                "logs from there, and a store inside this VM is out of its reach",\n',
        "`install --edition enterprise` on a terminal exits 2 instead of asking for storage",
        (
            "tests/test_interview.py::test_a_self_managed_control_plane_asks_for_storage_and_a_"
            "final_refusal_asks_again",
        ),
        where="section.py",
    ),
    _m(
        "settings",
        "                if fspec.masked:\n                    paths.append(",
        "                if fspec.secret:\n                    paths.append(",
        "identifiers (access key ids, client ids) are not kept after a Ctrl-C",
        (
            "tests/test_interview.py::test_ctrl_c_then_a_rerun_offers_every_non_secret_answer_"
            "and_the_registration_choice",
        ),
        where="specs.py",
    ),
    _m(
        "settings",
        "        *PULL_SECRET_PATHS,\n    ]",
        "    ]",
        "the registry password is saved in settings.yaml and left unmasked",
        (RG,),
        where="specs.py",
    ),
    _m(
        "settings",
        '        _optional("images", images_problems),\n',
        "",
        "a malformed images section (a scheme in the registry, half credentials) is accepted",
        (RG,),
        where="validate.py",
    ),
    _m(
        "settings",
        '        _optional("network", network_problems),\n',
        "",
        "a malformed proxy (no scheme, a bad port, a short password) is accepted",
        (PX,),
        where="validate.py",
    ),
    _m(
        "settings",
        "        return self.storage is None and self.target.is_kind",
        "        return self.storage is None",
        "an existing cluster without storage gets Helm values pointing at a MinIO nothing deploys",
        ("tests/test_answers_model.py",),
    ),
    _m(
        "settings",
        'doc = fspec.doc or found.get("description") or (SECRET_DOC if fspec.secret else "")',
        'doc = fspec.doc or found.get("description")',
        "the schema editors use stops marking secret fields (keep them out with ${VAR}), and "
        "nothing notices the committed file drifting from the tables",
        ("tests/test_answers_schema.py",),
        where="specs.py",
    ),
    _m(
        "settings",
        "    return Section(spec, dict(section), buckets)",
        "    return Section(spec, dict(section))",
        "the storage loses its buckets between its check and the settings (values.yaml names none)",
        ("tests/test_section.py",),
        where="section.py",
    ),
    _m(
        "settings",
        "            built[check] = found.value",
        "            pass",
        "answers that pass every check build no settings: install refuses them with no problem "
        "listed",
        ("tests/test_section.py",),
        where="validate.py",
    ),
    _m(
        "settings",
        'if error.validator == "oneOf" and "errorMessage" in error.schema:',
        "if False:",
        "a bucket that is neither a name nor a mapping of uses is refused with the schema "
        "library's words (which quote the value) instead of airbox's",
        ("tests/test_section.py",),
        where="answers.py",
    ),
    # --------------------------------------------------------------- manifests
    _m(
        "manifests",
        '"clientSecretSecretKey": DATA_PLANE_CLIENT_SECRET_KEY,',
        '"clientSecretSecretKey": DATA_PLANE_CLIENT_ID_KEY,',
        "the client-secret reference points at the client-id key",
    ),
    _m(
        "manifests",
        "content, _ = load_service_account(value)\n                value = content",
        "content, _ = load_service_account(value)\n                value = value",
        "the GCP key file's path is stored in the Secret instead of its JSON",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        '"networking": {"apiServerAddress": "127.0.0.1"},',
        '"networking": {"apiServerAddress": "0.0.0.0"},',
        "the kind API server listens on every interface",
    ),
    _m(
        "manifests",
        "data[DATA_PLANE_CLIENT_SECRET_KEY] = settings.data_plane.client_secret",
        "data[DATA_PLANE_CLIENT_SECRET_KEY] = settings.data_plane.client_id",
        "the Secret's client secret holds the client id",
    ),
    _m(
        "manifests",
        "data[LICENSE_KEY_KEY] = settings.license_key",
        'data[LICENSE_KEY_KEY] = ""',
        "the license key is left out of the Secret",
    ),
    _m(
        "manifests",
        'data[fspec.secret_key] = str(value) if value and fspec.applies(self.options) else ""',
        'data[fspec.secret_key] = str(value) if value else ""',
        "access keys reach the Secret with authenticationType instanceProfile",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        'data[fspec.secret_key] = str(value) if value and fspec.applies(self.options) else ""',
        "if value and fspec.applies(self.options):\n"
        "                data[fspec.secret_key] = str(value)",
        "keys the chart references whatever the type (instanceProfile) are missing",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        "for section in settings.sections:\n        data.update(section.secret_data())",
        "for section in settings.sections[:1]:\n        data.update(section.secret_data())",
        "the storage credentials are left out of the Secret",
    ),
    _m(
        "manifests",
        "fields[fspec.values_ref] = fspec.secret_key",
        "fields[fspec.values_ref] = fspec.key",
        "the values name the answers field instead of the Secret key",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        'value = [{"key": str(k), "value": str(v)} for k, v in value.items()]',
        "value = dict(value)",
        "AWS tags are not the list of {key, value} the chart wants",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        '"namespace": settings.namespace,\n            "containerOrchestrator"',
        '"namespace": "jobs",\n            "containerOrchestrator"',
        "job pods go to a namespace the chart's Role does not cover",
    ),
    _m(
        "manifests",
        '        values["enterprise"] = {"secretName": SECRET_NAME, "licenseKeySecretKey": LICENSE_KEY_KEY}\n',
        '        values["enterprise"] = {"secretName": SECRET_NAME, "licenseKeySecretKey": "LICENSE_KEY"}\n',
        "the license key reference names a key the Secret does not have",
    ),
    _m(
        "manifests",
        '"bucket": dict(self.buckets),',
        '"bucket": {},',
        "the bucket names are left out of the values",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        'values["storage"] = storage.helm_values(SECRET_NAME)',
        'values["storage"] = storage.helm_values(\n'
        "            chart_secret_name(settings.release) if settings.runs_local_store else SECRET_NAME\n"
        "        )",
        "the default local store reads the chart's own Secret (well-known credentials)",
    ),
    _m(
        "manifests",
        "merged = deep_merge(values, settings.values)",
        "merged = deep_merge(settings.values, values)",
        "the user's values: overrides lose against airbox's",
    ),
    _m(
        "manifests",
        '"namespace": settings.namespace,\n            "labels"',
        '"namespace": "default",\n            "labels"',
        "the Secret goes to the default namespace",
    ),
    _m(
        "manifests",
        '"stringData": dict(data),',
        '"data": dict(data),',
        "plain values under data: (Kubernetes wants base64 there)",
    ),
    _m(
        "manifests",
        "elif placeholder_credentials:",
        "elif False:",
        "a dry run before registration has no data plane keys to check references against",
    ),
    _m(
        "manifests",
        "data[fspec.file_key] = data[fspec.secret_key]",
        'data[fspec.file_key] = ""',
        "the GCS key file the launcher mounts (gcp.json) is empty",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        '            {"name": GCP_CREDENTIALS_VOLUME, "mountPath": GCP_CREDENTIALS_DIR, "readOnly": True}\n',
        '            {"name": GCP_CREDENTIALS_VOLUME, "mountPath": "/secrets", "readOnly": True}\n',
        "the GCS key is mounted where the chart does not look for it",
    ),
    _m(
        "manifests",
        'text = ",".join(f"{k}={v}" for k, v in value.items())',
        'text = ";".join(f"{k}:{v}" for k, v in value.items())',
        "Azure Key Vault tags reach the launcher in a form it cannot read",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        'return [*given, *(item for item in ours if item["name"] not in names)]',
        "return [*given, *ours]",
        "airbox's launcher volume duplicates the user's volume of the same name",
    ),
    _m(
        "manifests",
        '"edition": settings.control_plane.edition,',
        '"edition": "cloud",',
        "a self-managed control plane is given edition cloud",
    ),
    _m(
        "manifests",
        '"name": settings.cluster_name,',
        '"name": settings.name,',
        "the kind cluster is not named airbox-<name>",
    ),
    _m(
        "manifests",
        "for key in self.spec.placeholders:",
        "for key in ():",
        "the chart's own Secret for the local store holds the well-known MinIO credentials "
        "(no placeholder overrides its minio/minio123 default)",
        where="airbox/config/section.py",
    ),
    _m(
        "manifests",
        "if local_credentials is not None:",
        "if False:",
        "the local store's credentials are missing from the Secret (store and launcher fail)",
    ),
    _m(
        "manifests",
        'return f"http://{LOCAL_STORE}.{settings.namespace}:{LOCAL_STORE_PORT}"',
        'return f"http://{LOCAL_STORE}.airbyte:{LOCAL_STORE_PORT}"',
        "the local store's endpoint names the default namespace, not the data plane's",
    ),
    _m(
        "manifests",
        "env = secretrefs.launcher_env(settings.secrets_manager, SECRET_NAME)",
        "env: list[dict[str, Any]] = []",
        "the launcher gets no *_REF_NAME/*_REF_KEY settings: job pods get no secrets-manager "
        "credentials (Vault falls back to a test token, AWS keys/GCP/Azure fail)",
    ),
    _m(
        "manifests",
        (
            "                    **(\n"
            "                        {\n"
            '                            "annotations": {\n'
            "                                STORE_CREDENTIALS_ANNOTATION: credentials_fingerprint(*pair)\n"
            "                            }\n"
            "                        }\n"
            "                        if pair\n"
            "                        else {}\n"
            "                    ),\n"
        ),
        '                    **({"annotations": {STORE_CREDENTIALS_ANNOTATION: "same"}} if pair else {}),\n',
        "a new local store pair no longer changes the store's pod template (no restart)",
    ),
    _m(
        "manifests",
        (
            '        values["image"] = {\n'
            '            "registry": images.registry,\n'
            '            "repository": from_registry(images, LAUNCHER_REPOSITORY),\n'
            "        }\n"
        ),
        '        values["image"] = {"registry": images.registry}\n',
        "with a private registry the launcher's own image still comes from Docker Hub",
        (RG,),
    ),
    _m(
        "manifests",
        'env.append({"name": JOB_PULL_SECRET_ENV, "value": PULL_SECRET_NAME})',
        "pass",
        "job pods get the chart's 'map[name:...]' as pull secret: they cannot pull",
        (RG,),
    ),
    _m(
        "manifests",
        'env.append({"name": CONNECTOR_REGISTRY_ENV, "value": images.registry})',
        "pass",
        "connector images are still pulled from Docker Hub",
        (RG,),
    ),
    _m(
        "manifests",
        'scheme = "http" if images.insecure else "https"',
        'scheme = "https"',
        "an insecure (plain HTTP) registry is still spoken to over TLS",
        (RG,),
        where="registry.py",
    ),
    _m(
        "manifests",
        "    env += proxy.pod_env(SECRET_NAME, settings)",
        "    pass",
        "the workload launcher gets no proxy: its calls to the control plane go direct",
        (PX,),
    ),
    _m(
        "manifests",
        "    data.update(proxy.secret_data(settings))",
        "    pass",
        "the Secret lacks the proxy keys the launcher's secretKeyRefs name",
        (PX,),
    ),
    _m(
        "manifests",
        "marked = proxy.fingerprint(settings)",
        "marked = None",
        "a new proxy leaves the launcher running with the old one",
        (PX,),
    ),
    _m(
        "manifests",
        '        image = image.split("@", 1)[0]',
        "        pass",
        "installed from a bundle, kind is told the node image by digest, which a load does "
        "not keep: kind pulls it, and offline that fails",
        (OI + "test_install_from_a_bundle_pulls_nothing_and_the_node_gets_every_image",),
    ),
    _m(
        "manifests",
        'config["featureGates"] = {jobproxy.FEATURE_GATE: True}',
        'config["featureGates"] = {}',
        "a kind cluster made with a proxy lacks the MutatingAdmissionPolicy gate: job pods "
        "never get the proxy",
        ("tests/test_jobproxy.py::test_kind_config_enables_the_api_only_with_a_proxy",),
    ),
    _m(
        "manifests",
        "    if settings.bundle or settings.images is not None:",
        "    if settings.bundle:",
        "with a private registry, kind is told the node image by its Docker Hub digest: kind "
        "pulls it from Docker Hub, which a VM whose only registry is the private one cannot "
        "reach",
        (RG,),
    ),
    # ----------------------------------------------------------------- install
    _m(
        "install",
        "ctx.state.kubeconfig.chmod(SECRET_FILE)",
        "ctx.state.kubeconfig.chmod(0o644)",
        "the kubeconfig (cluster-admin credentials) is left world-readable",
        (IS + "test_created_cluster_kubeconfig_is_private_even_if_the_file_was_not",),
    ),
    _m(
        "install",
        (
            "            ctx.runner.run(\n"
            "                commands.kind_delete(settings, ctx.state.kubeconfig), check=False, timeout=120\n"
            "            )\n"
        ),
        "            pass\n",
        "a half-built cluster is no longer deleted",
        (IS + "test_a_failed_create_deletes_the_half_built_cluster",),
    ),
    _m(
        "install",
        "if result.ok:\n            return\n        if time.monotonic() > deadline:",
        "if True:\n            return\n        if time.monotonic() > deadline:",
        "the Kubernetes API wait returns at once",
        (IS + "test_the_api_wait_polls_with_backoff_until_the_api_answers",),
    ),
    _m(
        "install",
        "if time.monotonic() > deadline:",
        "if time.monotonic() > deadline + 3600:",
        "the Kubernetes API wait never gives up",
        (IS + "test_the_api_wait_gives_up_with_the_reason",),
    ),
    _m(
        "install",
        ("        ),\n        mode=SECRET_FILE,\n"),
        ("        ),\n        mode=PUBLIC_FILE,\n"),
        "secrets.yaml is written world-readable",
        (IS + "test_generated_files_modes_and_the_secret_values_are_masked",),
        where="generate.py",
    ),
    _m(
        "install",
        "    REDACTOR.add(*proxy.secret_values(data))\n",
        "",
        "the Secret's values are not registered for masking",
        (IS + "test_generated_files_modes_and_the_secret_values_are_masked",),
        where="generate.py",
    ),
    _m(
        "install",
        "if not ctx.state.kubeconfig.is_file():",
        "if False:",
        "a lost kubeconfig of an existing cluster is not exported again",
        (IS + "test_an_existing_cluster_gets_its_lost_kubeconfig_exported_again",),
    ),
    _m(
        "install",
        "ctx.docker.start(settings.node_container)",
        "None",
        "a stopped node container is not started",
        (IS + "test_a_stopped_node_container_is_started_before_the_api_wait",),
    ),
    _m(
        "install",
        "        if problems:\n            raise ClusterError(",
        "        if False:\n            raise ClusterError(",
        "a chart whose pods would miss a Secret key or file is installed anyway",
        (IS + "test_a_chart_that_references_a_missing_secret_key_is_stopped",),
        where="steps_release.py",
    ),
    _m(
        "install",
        "error.details.extend(_roll_back(ctx, line, previous))",
        "error.details.extend([])",
        "a failed upgrade is not rolled back",
        (IS + "test_a_failed_upgrade_says_why_then_rolls_back_to_the_last_good_revision",),
        where="steps_release.py",
    ),
    _m(
        "install",
        "        commands.helm_rollback(ctx.kube, ctx.settings, previous), check=False, timeout=360\n",
        "        commands.helm_rollback(ctx.kube, ctx.settings, previous - 1), check=False, timeout=360\n",
        "a failed upgrade rolls back to the wrong revision",
        (IS + "test_a_failed_upgrade_rolls_back_to_the_given_revision",),
        where="steps_release.py",
    ),
    _m(
        "install",
        "last_good = good[-1] if good else None",
        "last_good = good[0] if good else None",
        "a stuck release is rolled back to the oldest good revision, not the newest",
        (IS + "test_a_stuck_upgrade_rolls_back_to_the_newest_good_revision",),
        where="steps_release.py",
    ),
    _m(
        "install",
        "            for text in result.stdout.splitlines()\n",
        '            for text in "".splitlines()\n',
        "a launcher the control plane rejects passes verification",
        (IS + "test_verification_fails_when_the_control_plane_rejects_the_launcher",),
        where="steps_release.py",
    ),
    _m(
        "install",
        "images = [image for image in self._wanted(ctx) if not docker.has_image(image)]",
        "images = []",
        "a first install does not pull the images",
        (IS + "test_a_first_install_pulls_the_missing_images",),
    ),
    _m(
        "install",
        "        if failed:\n            raise failed[0]",
        "        if False:\n            raise failed[0]",
        "a failed image pull is ignored",
        (IS + "test_a_failed_image_pull_stops_the_install_with_its_error",),
        where="pulls.py",
    ),
    _m(
        "install",
        'return "exists" if result.ok else None',
        'return "exists"',
        "the namespace is never created",
        (IS + "test_a_missing_namespace_is_created_and_an_existing_one_left_alone",),
        where="steps_kube.py",
    ),
    _m(
        "install",
        'cgroup_v1 = str(ctx.docker.info().get("CgroupVersion") or "2") == "1"',
        'cgroup_v1 = str(ctx.docker.info().get("CgroupVersion") or "2") == "2"',
        "the node image does not match the host's cgroup version",
        (IS + "test_the_node_image_follows_the_daemons_cgroup_version",),
        where="generate.py",
    ),
    _m(
        "install",
        'progress.set("installed", ',
        'progress.set("finished", ',
        "a finished install is not recorded as installed",
        ("tests/test_install_fake.py::test_install_completes_and_writes_its_state",),
        where="command.py",
    ),
    _m(
        "install",
        'if not status.startswith("pending"):',
        'if not status.startswith("pending-install"):',
        "a release stuck in pending-upgrade is not recovered",
        (IS + "test_every_pending_state_is_recovered",),
        where="steps_release.py",
    ),
    _m(
        "install",
        (
            '        {"accessKeyId": pair[0], "secretAccessKey": pair[1], **marks},\n'
            "        mode=SECRET_FILE,\n"
        ),
        (
            '        {"accessKeyId": pair[0], "secretAccessKey": pair[1], **marks},\n'
            "        mode=PUBLIC_FILE,\n"
        ),
        "the local object store's credentials file is world-readable",
        (IS + "test_a_new_directory_is_private_and_the_local_store_credentials_are_kept_0600",),
        where="generate.py",
    ),
    _m(
        "install",
        "make_private_dirs(files.directory)",
        "files.directory.mkdir(parents=True, exist_ok=True)",
        "the directory of the generated files (secrets.yaml) is created with the umask's mode",
        (IS + "test_a_new_directory_is_private_and_the_local_store_credentials_are_kept_0600",),
        where="generate.py",
    ),
    _m(
        "install",
        "store_dir = str(state.storage_data) if local else None",
        "store_dir = None",
        "the local store's data is not kept on the host (lost when the cluster is re-created)",
        (IS + "test_the_local_store_data_lives_in_the_state_directory_on_the_host",),
        where="generate.py",
    ),
    _m(
        "install",
        "except (ToolError, KeyboardInterrupt):",
        "except ToolError:",
        "a Ctrl-C while kind creates the cluster leaves the half-built cluster behind",
        (IS + "test_ctrl_c_while_creating_deletes_the_half_built_cluster",),
    ),
    _m(
        "install",
        "        CheckCredentials(),\n",
        "",
        "an unattended install with a wrong data plane secret builds everything, then fails",
        (
            "tests/test_first_registration.py::"
            "test_unattended_wrong_credentials_exit_4_naming_what_to_check",
        ),
        where="command.py",
    ),
    _m(
        "install",
        "                    if repository in tags and isinstance(tag, str) and tag:",
        "                    if False:",
        "verify's connectors are pre-pulled with airbox's pinned tags even when the "
        "workspace's definitions name others",
        ("tests/test_verify.py::test_install_prepulls_verify_connectors_and_never_waits_for_them",),
    ),
    _m(
        "install",
        (
            "        return ctx.settings.data_plane is not None and (\n"
            "            not ctx.options.interactive or ctx.options.recheck_credentials\n"
            "        )\n"
        ),
        "        return ctx.settings.data_plane is not None and (not ctx.options.interactive)\n",
        "credentials the interview could not check are never checked: a wrong secret "
        "installs silently",
        (
            "tests/test_first_registration.py::"
            "test_credentials_the_interview_could_not_check_are_said_and_checked_before_building",
        ),
        where="steps_controlplane.py",
    ),
    _m(
        "install",
        "ensure_state_subdir(ctx.state.storage_data)",
        "ensure_private_dir(ctx.state.storage_data)",
        "a symlinked store directory is chmod-ed and mounted into the node (MinIO writes "
        "into the user's directory)",
        (
            "tests/test_state_safety.py::"
            "test_a_symlinked_store_directory_is_refused_before_anything_is_created",
        ),
    ),
    _m(
        "install",
        "_explain_placeholders(dump_yaml(manifests.helm_values(settings)))",
        "dump_yaml(manifests.helm_values(settings))",
        "values.yaml's accessKeyId: (in Secret …) placeholder reads like a credential, unexplained",
        (
            "tests/test_dry_run.py::"
            "test_generated_files_say_what_they_are_and_where_the_secrets_live",
        ),
        where="generate.py",
    ),
    _m(
        "install",
        "            settle_store_credentials(ctx, line)",
        "            pass",
        "a lost local store credentials file is replaced by a new pair the store never sees",
        ("tests/test_status.py::test_the_local_stores_credentials_never_change_behind_its_back",),
        where="steps_kube.py",
    ),
    _m(
        "install",
        "        self._restart_launcher_if_due(ctx, line)\n",
        "",
        "the launcher keeps the local store's old pair after the store restarted with a new one",
        ("tests/test_status.py::test_the_local_stores_credentials_never_change_behind_its_back",),
        where="steps_kube.py",
    ),
    _m(
        "install",
        'text += "---\\n" + ctx.files.pull_secret.read_text(encoding="utf-8")',
        "pass",
        "the registry's pull Secret is never applied: pods cannot pull",
        (IS + "test_the_secret_step_applies_the_registry_pull_secret_on_stdin",),
        where="steps_kube.py",
    ),
    _m(
        "install",
        "docker.pull(ref, lambda msg: self.progress.__setitem__(image, msg), auth=auth)",
        "docker.pull(ref, lambda msg: self.progress.__setitem__(image, msg), auth=None)",
        "the host pulls a private registry's images without its credentials (401)",
        (IS + "test_the_host_pulls_a_private_registrys_images_with_its_credentials",),
        where="pulls.py",
    ),
    _m(
        "install",
        "            return unpacked(ctx.settings, ctx.bundle, ctx.state, ctx.docker)",
        "            return None",
        "every install from a bundle reads and loads the whole bundle again, even when all "
        "is in place",
        (OI + "test_install_from_a_bundle_pulls_nothing_and_the_node_gets_every_image",),
    ),
    _m(
        "install",
        "        tools = Toolchain(offline=manifest is not None)",
        "        tools = Toolchain()",
        "offline, a missing tool is downloaded (a request to GitHub that hangs or fails) "
        "instead of said missing",
        (
            "tests/test_offline_tools.py::test_offline_a_missing_tool_is_said_missing_not_"
            "downloaded",
        ),
        where="command.py",
    ),
    _m(
        "install",
        "        checked[bundle_flag] = _check_bundle(Path(bundle_flag), term)",
        "        pass",
        "a damaged bundle is found only once the state directory and preflight have run",
        (OI + "test_a_damaged_bundle_is_exit_2_naming_the_item_and_nothing_is_created",),
        where="command.py",
    ),
    _m(
        "install",
        "return jobproxy.wanted(ctx.settings) or (not ctx.options.dry_run",
        "return jobproxy.wanted(ctx.settings) or (False",
        "a proxy removed from the settings leaves its policy behind: job pods keep a proxy",
        ("tests/test_jobproxy.py::test_the_step_applies_keeps_and_removes_the_objects",),
        where="steps_kube.py",
    ),
    # The register step, moved from registration's install_step into install's Register.
    _m(
        "install",
        "if settings.registration is None or settings.data_plane is not None:",
        "if settings.registration is None:",
        "a data plane is registered although its credentials were given",
        (RT + "test_data_plane_credentials_given_means_no_registration",),
        where="steps_controlplane.py",
    ),
    _m(
        "install",
        '    return f"{from_registry(settings.images, repository)}@{digest}", name',
        '    return f"{repository}@{digest}", name',
        "with a private registry, the node image is still pulled from Docker Hub",
        (RG,),
        where="pulls.py",
    ),
    _m(
        "install",
        "            images.insert(0, node[1])",
        "            pass",
        "with a private registry, the node image is never pulled: kind pulls it from Docker Hub",
        (IS + "test_the_host_pulls_a_private_registrys_images_with_its_credentials",),
    ),
    # ------------------------------------------------------------------ status
    _m(
        "status",
        (
            "    if not ready:\n"
            "        return Check(\n"
            '            "kubernetes",\n'
            '            "fail",\n'
        ),
        (
            "    if not ready:\n"
            "        return Check(\n"
            '            "kubernetes",\n'
            '            "warn",\n'
        ),
        "status says warn instead of fail with no Ready node",
    ),
    _m(
        "status",
        ('            "pods",\n            "fail",\n'),
        ('            "pods",\n            "warn",\n'),
        "status says warn with no data plane pod",
    ),
    _m(
        "status",
        ('            "docker",\n            "fail",\n'),
        ('            "docker",\n            "warn",\n'),
        "an unreachable Docker is only a warning",
    ),
    _m(
        "status",
        '            blocks="Docker is not reachable",\n',
        "            blocks=None,\n",
        "checks after an unreachable Docker report their own confusing failures",
    ),
    _m(
        "status",
        (
            "    if not node.running:\n"
            "        return Check(\n"
            '            "node-container",\n'
            '            "fail",\n'
        ),
        (
            "    if not node.running:\n"
            "        return Check(\n"
            '            "node-container",\n'
            '            "warn",\n'
        ),
        "a stopped node container is only a warning",
    ),
    _m(
        "status",
        'if status == "deployed":',
        'if status in ("deployed", "failed"):',
        "a failed Helm release counts as ok",
    ),
    _m(
        "status",
        'state = "warn" if ready or starting else "fail"',
        'state = "warn"',
        "pods that cannot run are only a warning",
    ),
    _m(
        "status",
        'elif worst.trouble == "config":',
        "elif False:",
        "a pod blocked by a missing Secret key is not explained",
    ),
    _m(
        "status",
        "if finished is not None and now - finished < RECENT_SECONDS:",
        "if finished is not None and now - finished > RECENT_SECONDS:",
        "recent restarts are not reported (old ones are)",
    ),
    _m(
        "status",
        (
            "    return [\n"
            "        event_view(e)\n"
            "        for e in facts.probes.events.value\n"
            "        if (_event_time(e) or 0) >= facts.now - RECENT_SECONDS\n"
            "    ]\n"
        ),
        "    return [event_view(e) for e in facts.probes.events.value if (_event_time(e) or 0) >= 0]\n",
        "old warning events degrade the verdict",
    ),
    _m(
        "status",
        ('            "credentials",\n            "fail",\n'),
        ('            "credentials",\n            "warn",\n'),
        "rejected credentials are only a warning",
    ),
    _m(
        "status",
        (
            '    if view["deleted"]:\n'
            "        return Check(\n"
            '            "registration",\n'
            '            "fail",\n'
        ),
        (
            '    if view["deleted"]:\n'
            "        return Check(\n"
            '            "registration",\n'
            '            "warn",\n'
        ),
        "a data plane deleted on the control plane is only a warning",
        where="remote.py",
    ),
    _m(
        "status",
        'if view["enabled"] is False:',
        'if view["enabled"] is None:',
        "a disabled data plane is reported enabled",
        where="remote.py",
    ),
    _m(
        "status",
        'if health == "HEALTHY":',
        "if health:",
        "an unhealthy heartbeat is reported ok",
        where="remote.py",
    ),
    _m(
        "status",
        '(("fail", UNHEALTHY), ("warn", DEGRADED))',
        '(("warn", DEGRADED), ("fail", UNHEALTHY))',
        "a warning hides a failure in the verdict",
        where="report.py",
    ),
    _m(
        "status",
        'code = EXIT_OK if report["verdict"] == HEALTHY else EXIT_FAILURE',
        'code = EXIT_OK if report["verdict"] != UNHEALTHY else EXIT_FAILURE',
        "a degraded data plane exits 0",
        where="command.py",
    ),
    _m(
        "status",
        (
            "    return ExistingTarget(\n"
            '        "existing", context=settings.target.kube_context, kubeconfig=settings.target.kubeconfig\n'
            "    )\n"
        ),
        '    return ExistingTarget("existing", context=None, kubeconfig=settings.target.kubeconfig)\n',
        "an existing-cluster target does not name its context",
        where="report.py",
    ),
    _m(
        "status",
        'out.write(REDACTOR.mask_all(text) + "\\n")',
        'out.write(text + "\\n")',
        "secrets in pod or release messages reach the terminal",
        where="command.py",
    ),
    _m(
        "status",
        "if answer is None:\n            # Deleted",
        "if answer is None and False:\n            # Deleted",
        "a data plane deleted on the control plane is reported as not checked",
        (
            "tests/test_status_checks.py::"
            "test_the_registration_probe_sees_a_data_plane_deleted_on_the_control_plane",
        ),
        where="probes.py",
    ),
    _m(
        "status",
        "api.timeout = Timeouts(connect=2.0, read=4.0, total=6.0)",
        "api.timeout = Timeouts(connect=2.0, read=4.0)",
        "status waits a minute for a control plane that trickles its answer",
        (
            "tests/test_workspaces.py::"
            "test_status_and_workspaces_end_behind_a_control_plane_that_pages_or_trickles_for_ever",
        ),
        where="probes.py",
    ),
    _m(
        "status",
        'problems = hydration.launcher_problems(section, found["env"], found["keys"])',
        "problems: list[str] = []",
        "status says job pods get the secrets manager's credentials when the launcher would "
        "hand over none",
    ),
    _m(
        "status",
        "if facts.inst.settings.registration is not None and stopped is not None:",
        "if False:",
        "status says the data plane's own credentials were given when registration failed",
        (
            "tests/test_halfbuilt.py::"
            "test_status_says_registration_is_not_done_when_the_register_step_failed",
        ),
        where="remote.py",
    ),
    _m(
        "status",
        "        if stopped is not None:\n            # Never created",
        "        if False:\n            # Never created",
        'status says the install "recreates" a cluster that was never created',
        (
            "tests/test_halfbuilt.py::"
            "test_day2_commands_on_an_install_that_stopped_before_the_cluster",
        ),
    ),
    _m(
        "status",
        'if running and found.get("secretPair") and running != found["secretPair"]:',
        "if False:",
        "status calls a store healthy that runs with other credentials than the pods get",
        ("tests/test_status.py::test_the_local_stores_credentials_never_change_behind_its_back",),
    ),
    # The split's own promises: the table's runner skips what a root cause hides, and
    # the report leaves out the node's parts that were not read (the JSON contract).
    _m(
        "status",
        'if needs == "cluster" and facts.blocked:',
        "if False:",
        "checks that need the cluster report their own failures behind a root cause",
        where="checks.py",
    ),
    _m(
        "status",
        (
            "            json_key(name): to_json(item)\n"
            "            for name, item in zip(value._fields, value, strict=True)\n"
            "            if not (omit and item is None)\n"
        ),
        "            json_key(name): to_json(item) for name, item in zip(value._fields, value, strict=True)\n",
        "the node's parts that were not read appear as null in the JSON",
        where="report.py",
    ),
    _m(
        "status",
        "    text, _ = describe(facts.inst.settings, store)",
        '    text = ""',
        "status no longer lists the connector images in the node, nor says that offline "
        "only those run",
        (
            "tests/test_year.py::test_status_json_carries_certificates_disk_images_and_versions",
            OI + "test_install_from_a_bundle_pulls_nothing_and_the_node_gets_every_image",
        ),
        where="ahead.py",
    ),
    _m(
        "status",
        "return judge(facts.inst.settings, outcome.value, outcome.error)",
        'return Check("job-proxy", "skip", "not checked")',
        "status never says whether job pods get the proxy",
        ("tests/test_jobproxy.py::test_an_install_behind_a_proxy_gives_every_job_pod_the_proxy",),
    ),
    _m(
        "status",
        "    if renewal is not None:\n        return _renewal_unfinished(facts, renewal)\n",
        "",
        "status says healthy while a certificate renewal a repair started is unfinished (F1)",
        where="ahead.py",
    ),
    # ------------------------------------------------------------ registration
    _m(
        "registration",
        'if dataplane.get("name") != name or dataplane.get("regionId") != region_id:',
        'if dataplane.get("name") != name:',
        "orphan clean-up deletes same-named data planes in other regions",
    ),
    _m(
        "registration",
        'if dataplane.get("name") != name or dataplane.get("regionId") != region_id:',
        'if dataplane.get("regionId") != region_id:',
        "orphan clean-up deletes other data planes of the region",
    ),
    _m(
        "registration",
        'if not isinstance(pending, dict) or pending.get("name") != name:',
        "if not isinstance(pending, dict):",
        "orphan clean-up follows a marker written for another name",
    ),
    _m(
        "registration",
        "return started - _ORPHAN_BEFORE <= created <= started + _ORPHAN_AFTER",
        "return True",
        "orphan clean-up deletes a same-named data plane made long before or after the "
        "interrupted registration (someone else's)",
    ),
    _m(
        "registration",
        "if started is None or created is None:\n        return False",
        "if started is None or created is None:\n        return True",
        "a pending marker without a start time deletes any same-named data plane",
    ),
    _m(
        "registration",
        "    _write(\n",
        "    (\n",
        "no pending marker before the POST: an interrupted registration is never cleaned up",
    ),
    _m(
        "registration",
        "    # First thing after the answer: the secret exists nowhere else.\n"
        "    _write(state, record)\n",
        "",
        "the data plane's credentials are not saved",
    ),
    _m(
        "registration",
        "write_json(registration_file(state), dict(record), mode=SECRET_FILE)",
        "write_json(registration_file(state), dict(record), mode=0o644)",
        "registration.json (client secret) is world-readable",
    ),
    _m(
        "registration",
        "    if same_name:\n",
        "    if False:\n",
        "a data plane of the same name that airbox did not create is silently duplicated",
    ),
    _m(
        "registration",
        'REDACTOR.add(record["clientId"], record["clientSecret"])',
        "None",
        "the new client secret is not registered for masking",
        equivalent="install writes the Secret right after (write_generated registers every "
        "Secret value) and nothing prints the record in between; _read registers "
        "it for every later command",
    ),
    _m(
        "registration",
        "    if live is None:\n",
        "    if False:\n",
        "a data plane deleted remotely is not registered again",
        (RT + "test_a_data_plane_deleted_on_the_control_plane_is_registered_again",),
    ),
    _m(
        "registration",
        "if saved_api and saved_api != api.base_url:",
        "if False:",
        "a data plane registered with another control plane is re-used there",
        (RT + "test_a_rerun_against_another_control_plane_is_refused",),
    ),
    _m(
        "registration",
        '            if str(dp.get("dataplaneId")).lower() == dataplane_id.lower()\n',
        '            if str(dp.get("dataplaneId")).lower() != dataplane_id.lower()\n',
        "a data plane is found by another one's id (a deleted one looks alive)",
        (RT + "test_a_second_run_reuses_the_region_and_the_data_plane",),
    ),
    _m(
        "registration",
        "if len(organizations) == 1:",
        "if len(organizations) >= 1:",
        "the first of several organizations is chosen without asking",
        (RT + "test_several_organizations_without_a_terminal_is_an_error_listing_them",),
        where="regions.py",
    ),
    _m(
        "registration",
        'return [dict(r) for r in regions if r.get("organizationId") == organization_id]',
        "return [dict(r) for r in regions]",
        "an Airbyte-managed region is accepted for a self-run data plane",
        (RT + "test_the_name_of_an_airbyte_managed_region_is_refused_before_creating",),
        where="regions.py",
    ),
    _m(
        "registration",
        'named = [r for r in regions if str(r.get("name") or "").casefold() == wanted.casefold()]',
        'named = [r for r in regions if str(r.get("name") or "") == wanted]',
        "a region named in other case is created again",
        (RT + "test_an_existing_region_is_matched_by_name_case_insensitively",),
        where="regions.py",
    ),
    _m(
        "registration",
        "deleted = _delete(client, dataplane_id)",
        "deleted = True",
        "uninstall does not delete the registration",
    ),
    _m(
        "registration",
        "    registration_file(state).unlink(missing_ok=True)\n    return outcome",
        "    return outcome",
        "uninstall keeps the registration file (and its secret)",
    ),
    _m(
        "registration",
        "if exc.status == 404:\n            return False\n        raise",
        "if exc.status == 500:\n            return False\n        raise",
        "deleting a data plane already gone is an error",
    ),
    _m(
        "registration",
        "if settings.data_plane is not None or saved is None:",
        "if saved is None:",
        "saved credentials override the ones the user gave",
    ),
    _m(
        "registration",
        "            if names:\n",
        "            if True:\n",
        "a first registration (no region of the organization's own) crashes at the region "
        "question instead of offering a new one",
        (
            "tests/test_first_registration.py::"
            "test_a_first_registration_on_a_terminal_creates_the_organizations_first_region",
        ),
        where="regions.py",
    ),
    _m(
        "registration",
        "    if wrong:\n        # Names only",
        "    if False:\n        # Names only",
        "a registration record of the wrong types crashes verify/workspaces (unexpected error)",
        (
            "tests/test_state_safety.py::"
            "test_a_registration_record_of_the_wrong_types_is_a_clear_error",
        ),
    ),
]
