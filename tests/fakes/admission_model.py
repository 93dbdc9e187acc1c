"""A model of the API server's MutatingAdmissionPolicy plugin, for the fake cluster.

Written from reading kubernetes/kubernetes (not copied from it):
staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/

- ``generic/policy_dispatcher.go``: a policy acts only through a binding that names it;
  the policy's ``matchConstraints`` and the binding's ``matchResources`` both must match
  (resource rules, namespace selector, object selector); ``matchConditions`` must all
  be true. An error in a policy (a CEL error, a patch that does not apply) is dropped
  with ``failurePolicy: Ignore`` and refuses the request with ``Fail`` (the default):
  ``<kind> "<name>" is forbidden: policy '<p>' with binding '<b>' denied request: <err>``.
- ``mutating/dispatcher.go``: a policy's mutations run in order, each on the object as
  the previous one left it.
- ``mutating/patch/json_patch.go``: a JSONPatch expression evaluates to a list of
  ``JSONPatch{op, path, from, value}``, applied as RFC 6902 (gopkg.in/evanphx/json-patch);
  a failed ``test`` leaves the object unchanged; an ``Object.<path>{…}`` value must have
  type names that follow its field names (``CheckTypeNamesMatchFieldPathNames``).
- ``mutating/patch/smd.go``: an apply configuration may not set an atomic struct, list
  or map; not modelled beyond that (airbox uses JSON Patch), so it is refused here.

The expressions are evaluated by a small CEL interpreter: the part of the language the
policies airbox writes use (literals, lists, maps, field selection, ``has()``, ``!``,
``&&``, ``||``, ``==``, ``!=``, ``+``, the conditional, ``string()``, ``size()``, the
macros ``exists``/``all``/``map``/``filter`` and the two-variable ``transformList`` of
cel-go's ext library, which Kubernetes enables from 1.32 (apiserver
``pkg/cel/environment/base.go``), and typed object construction). As in Kubernetes, a
field the object does not have is an error ("no such key"), hence ``has()``. Anything
else fails the expression with "not modelled", so a policy outside the subset cannot
pass by accident.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

GROUP = "admissionregistration.k8s.io"
POLICY_KIND = "MutatingAdmissionPolicy"
BINDING_KIND = "MutatingAdmissionPolicyBinding"
FEATURE_GATE = "MutatingAdmissionPolicy"


class CelError(Exception):
    """A compile or evaluation error of an expression."""


class Denied(Exception):
    """The request is refused by a policy (its failurePolicy is Fail)."""


# --------------------------------------------------------------------------------- lexer

TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<int>\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}])
""",
    re.VERBOSE,
)
RESERVED = {
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
}


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


def lex(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise CelError(
                f"Syntax error: token recognition error at: '{text[pos]}' (offset {pos})"
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(Tok("eof", "", pos))
    return out


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


# -------------------------------------------------------------------------------- parser
# The tree: tuples whose first item names the node.

MACROS = {"has", "exists", "all", "exists_one", "map", "filter", "transformList"}


class Parser:
    def __init__(self, text: str) -> None:
        self.toks = lex(text)
        self.i = 0

    def peek(self, text: str | None = None) -> bool:
        tok = self.toks[self.i]
        return tok.text == text if text is not None else False

    def take(self, text: str) -> Tok:
        tok = self.toks[self.i]
        if tok.text != text:
            raise CelError(
                f"Syntax error: mismatched input '{tok.text or '<EOF>'}' "
                f"expecting '{text}' (offset {tok.pos})"
            )
        self.i += 1
        return tok

    def parse(self) -> Any:
        node = self.expr()
        tok = self.toks[self.i]
        if tok.kind != "eof":
            raise CelError(f"Syntax error: extraneous input '{tok.text}' (offset {tok.pos})")
        return node

    def expr(self) -> Any:
        cond = self.or_()
        if self.peek("?"):
            self.take("?")
            yes = self.or_()
            self.take(":")
            no = self.expr()
            return ("cond", cond, yes, no)
        return cond

    def or_(self) -> Any:
        node = self.and_()
        while self.peek("||"):
            self.take("||")
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.rel()
        while self.peek("&&"):
            self.take("&&")
            node = ("and", node, self.rel())
        return node

    def rel(self) -> Any:
        node = self.add()
        while self.toks[self.i].text in ("==", "!=", "<", ">", "<=", ">=", "in"):
            op = self.toks[self.i].text
            self.i += 1
            node = ("bin", op, node, self.add())
        return node

    def add(self) -> Any:
        node = self.mul()
        while self.toks[self.i].text in ("+", "-"):
            op = self.toks[self.i].text
            self.i += 1
            node = ("bin", op, node, self.mul())
        return node

    def mul(self) -> Any:
        node = self.unary()
        while self.toks[self.i].text in ("*", "/", "%"):
            op = self.toks[self.i].text
            self.i += 1
            node = ("bin", op, node, self.unary())
        return node

    def unary(self) -> Any:
        if self.peek("!"):
            self.take("!")
            return ("not", self.unary())
        if self.peek("-"):
            self.take("-")
            return ("neg", self.unary())
        return self.member()

    def member(self) -> Any:
        node = self.primary()
        while True:
            if self.peek("."):
                self.take(".")
                name = self.toks[self.i]
                if name.kind != "ident":
                    raise CelError(f"Syntax error: no viable alternative at '.{name.text}'")
                self.i += 1
                if self.peek("("):
                    node = ("call", name.text, node, self.args())
                else:
                    node = ("select", node, name.text)
            elif self.peek("["):
                self.take("[")
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
            elif self.peek("{") and _qualified(node) is not None:
                node = ("object", _qualified(node), self.fields())
            else:
                return node

    def args(self) -> list[Any]:
        self.take("(")
        out: list[Any] = []
        while not self.peek(")"):
            out.append(self.expr())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return out

    def fields(self) -> list[tuple[str, Any]]:
        self.take("{")
        out: list[tuple[str, Any]] = []
        while not self.peek("}"):
            name = self.toks[self.i]
            if name.kind != "ident":
                raise CelError(f"Syntax error: field name expected, got '{name.text}'")
            self.i += 1
            self.take(":")
            out.append((name.text, self.expr()))
            if not self.peek("}"):
                self.take(",")
        self.take("}")
        return out

    def primary(self) -> Any:
        tok = self.toks[self.i]
        if tok.kind == "str":
            self.i += 1
            return ("lit", _unquote(tok.text))
        if tok.kind == "int":
            self.i += 1
            return ("lit", int(tok.text))
        if tok.kind == "ident":
            self.i += 1
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text == "null":
                return ("lit", None)
            if tok.text in RESERVED:
                raise CelError(f"Syntax error: reserved identifier: {tok.text}")
            if self.peek("("):
                return ("call", tok.text, None, self.args())
            return ("ident", tok.text)
        if tok.text == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        if tok.text == "[":
            self.take("[")
            items: list[Any] = []
            while not self.peek("]"):
                items.append(self.expr())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            return ("list", items)
        if tok.text == "{":
            self.take("{")
            entries: list[tuple[Any, Any]] = []
            while not self.peek("}"):
                key = self.expr()
                self.take(":")
                entries.append((key, self.expr()))
                if not self.peek("}"):
                    self.take(",")
            self.take("}")
            return ("map", entries)
        raise CelError(f"Syntax error: mismatched input '{tok.text or '<EOF>'}' (offset {tok.pos})")


def _qualified(node: Any) -> str | None:
    """``a.b.c`` as a type name, when ``node`` is a chain of plain identifiers."""
    if node[0] == "ident":
        return str(node[1])
    if node[0] == "select":
        base = _qualified(node[1])
        return f"{base}.{node[2]}" if base else None
    return None


def compile_expr(text: str) -> Any:
    """Parse ``text``; a ``CelError`` says why it does not compile."""
    tree = Parser(text).parse()
    _check(tree)
    return tree


def _check(node: Any) -> None:
    """What the type checker would refuse that the interpreter would only find later."""
    if not isinstance(node, tuple):
        return
    if node[0] == "object":
        name = node[1]
        if name != "JSONPatch" and not re.fullmatch(r"Object(\.[A-Za-z_]\w*)*", name):
            raise CelError(f"undeclared reference to '{name}'")
        if name == "JSONPatch":
            for fname, _ in node[2]:
                if fname not in ("op", "path", "from", "value"):
                    raise CelError(f"undefined field '{fname}' of JSONPatch")
    if node[0] == "call" and node[1] in (
        "exists",
        "all",
        "exists_one",
        "map",
        "filter",
        "transformList",
    ):
        for arg in node[3][: 2 if node[1] == "transformList" else 1]:
            if arg[0] != "ident":
                raise CelError(f"{node[1]}(): the iteration variables must be simple identifiers")
    for child in node[1:]:
        if isinstance(child, tuple):
            _check(child)
        elif isinstance(child, list):
            for item in child:
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                    _check(item[1])
                else:
                    _check(item)


# ---------------------------------------------------------------------------- evaluation


@dataclass
class Typed:
    """An object built with ``TypeName{field: value}``."""

    type_name: str
    fields: dict[str, Any] = field(default_factory=dict)


def evaluate(tree: Any, env: dict[str, Any]) -> Any:
    return _eval(tree, env)


def _eval(node: Any, env: dict[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "ident":
        name = node[1]
        if name not in env:
            raise CelError(f"undeclared reference to '{name}'")
        value = env[name]
        return value.get() if isinstance(value, Lazy) else value
    if kind == "select":
        base = _eval(node[1], env)
        return _select(base, node[2])
    if kind == "index":
        base = _eval(node[1], env)
        index = _eval(node[2], env)
        try:
            return base[index]
        except (KeyError, IndexError, TypeError):
            raise CelError(f"no such key: {index}") from None
    if kind == "list":
        return [_eval(item, env) for item in node[1]]
    if kind == "map":
        return {_eval(k, env): _eval(v, env) for k, v in node[1]}
    if kind == "object":
        return Typed(node[1], {name: _eval(value, env) for name, value in node[2]})
    if kind == "not":
        return not _bool(_eval(node[1], env))
    if kind == "neg":
        return -_eval(node[1], env)
    if kind == "or":
        return _bool(_eval(node[1], env)) or _bool(_eval(node[2], env))
    if kind == "and":
        return _bool(_eval(node[1], env)) and _bool(_eval(node[2], env))
    if kind == "cond":
        return _eval(node[2] if _bool(_eval(node[1], env)) else node[3], env)
    if kind == "bin":
        return _binary(node[1], _eval(node[2], env), _eval(node[3], env))
    if kind == "call":
        return _call(node, env)
    raise CelError(f"not modelled: {kind}")


class Lazy:
    """A variable evaluated when first read (``variables.<name>``)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = False
        self.value: Any = None

    def get(self) -> Any:
        if not self.done:
            self.value = self.fn()
            self.done = True
        return self.value


def _select(base: Any, name: str) -> Any:
    if isinstance(base, Typed):
        if name not in base.fields:
            raise CelError(f"no such key: {name}")
        return base.fields[name]
    if isinstance(base, dict):
        if name not in base:
            raise CelError(f"no such key: {name}")
        value = base[name]
        return value.get() if isinstance(value, Lazy) else value
    raise CelError(f"no such overload: select '{name}' on {type(base).__name__}")


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError(f"no such overload: expected bool, got {type(value).__name__}")
    return value


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return _plain(left) == _plain(right)
    if op == "!=":
        return _plain(left) != _plain(right)
    if op == "in":
        return left in right
    if op == "+":
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool):
            return left + right
        raise CelError(f"no such overload: {type(left).__name__} + {type(right).__name__}")
    if op in ("<", ">", "<=", ">=", "-", "*", "/", "%"):
        if not (isinstance(left, int) and isinstance(right, int)):
            raise CelError(f"not modelled: {op} on {type(left).__name__}")
        return {
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
            "-": left - right,
            "*": left * right,
            "/": left // right if right else _div0(),
            "%": left % right if right else _div0(),
        }[op]
    raise CelError(f"not modelled: operator {op}")


def _div0() -> Any:
    raise CelError("division by zero")


def _call(node: Any, env: dict[str, Any]) -> Any:
    _, name, target, args = node
    if target is None:
        if name == "has":
            if len(args) != 1 or args[0][0] != "select":
                raise CelError("invalid argument to has() macro")
            base = _eval(args[0][1], env)
            if isinstance(base, Typed):
                return args[0][2] in base.fields
            if isinstance(base, dict):
                return args[0][2] in base
            raise CelError("no such overload: has() on a non-object")
        values = [_eval(a, env) for a in args]
        if name == "string" and len(values) == 1:
            value = values[0]
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, (int, str)):
                return str(value)
            raise CelError(f"no such overload: string({type(value).__name__})")
        if name == "size" and len(values) == 1:
            return len(values[0])
        raise CelError(f"not modelled: function {name}")
    base = _eval(target, env)
    if name in ("exists", "all", "exists_one", "map", "filter"):
        if not isinstance(base, list):
            if isinstance(base, dict):
                base = list(base)
            else:
                raise CelError(f"no such overload: {name} on {type(base).__name__}")
        var = args[0][1]

        def each(item: Any, expr: Any) -> Any:
            return _eval(expr, {**env, var: item})

        if name == "exists":
            return any(_bool(each(x, args[1])) for x in base)
        if name == "all":
            return all(_bool(each(x, args[1])) for x in base)
        if name == "exists_one":
            return sum(1 for x in base if _bool(each(x, args[1]))) == 1
        if name == "filter":
            return [x for x in base if _bool(each(x, args[1]))]
        if len(args) == 3:
            return [each(x, args[2]) for x in base if _bool(each(x, args[1]))]
        return [each(x, args[1]) for x in base]
    if name == "transformList":
        if not isinstance(base, list) or len(args) not in (3, 4):
            raise CelError("no such overload: transformList")
        ivar, vvar = args[0][1], args[1][1]
        out = []
        for index, item in enumerate(base):
            scope = {**env, ivar: index, vvar: item}
            if len(args) == 4 and not _bool(_eval(args[2], scope)):
                continue
            out.append(_eval(args[-1], scope))
        return out
    if name == "size" and not args:
        return len(base)
    raise CelError(f"not modelled: method {name}")


def _plain(value: Any) -> Any:
    """A value as JSON: typed objects become maps."""
    if isinstance(value, Typed):
        return {k: _plain(v) for k, v in value.fields.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def check_type_names(value: Typed) -> None:
    """An object's fields that are objects carry the type name of their field path
    (``Object.spec{selector: Object.spec.wrong{}}`` is a mismatch)."""
    for name, child in value.fields.items():
        items = child if isinstance(child, list) else [child]
        for item in items:
            if isinstance(item, Typed):
                want = f"{value.type_name}.{name}"
                if item.type_name != want:
                    raise CelError(
                        f"type mismatch: field {name!r} of {value.type_name} "
                        f"holds {item.type_name}, expected {want}"
                    )
                check_type_names(item)


# ----------------------------------------------------------------------------- JSON Patch


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise CelError(f"JSONPath: invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_json_patch(doc: Any, ops: list[Obj]) -> Any:
    """RFC 6902 (add, remove, replace, test), as gopkg.in/evanphx/json-patch.v4 answers."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op.get("op"), _pointer(str(op.get("path", "")))
        parent: Any = doc
        for part in parts[:-1]:
            try:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise CelError(
                    f"JSONPath: {kind} operation does not apply: doc is missing "
                    f"path: {op.get('path')}: missing value"
                ) from None
        last = parts[-1]
        if kind == "test":
            try:
                got = parent[int(last)] if isinstance(parent, list) else parent[last]
            except (KeyError, IndexError, ValueError, TypeError):
                got = None
            if got != op.get("value"):
                raise TestFailed()
            continue
        if kind == "add":
            value = copy.deepcopy(op.get("value"))
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                else:
                    index = int(last)
                    if index > len(parent):
                        raise CelError(
                            f"JSONPath: add operation does not apply: index out "
                            f"of bounds: {op.get('path')}"
                        )
                    parent.insert(index, value)
            elif isinstance(parent, dict):
                parent[last] = value
            else:
                raise CelError(
                    f"JSONPath: add operation does not apply: doc is missing path: {op.get('path')}"
                )
            continue
        if kind in ("remove", "replace"):
            try:
                if isinstance(parent, list):
                    index = int(last)
                    if kind == "remove":
                        parent.pop(index)
                    else:
                        parent[index] = copy.deepcopy(op.get("value"))
                else:
                    if last not in parent:
                        raise KeyError(last)
                    if kind == "remove":
                        del parent[last]
                    else:
                        parent[last] = copy.deepcopy(op.get("value"))
            except (KeyError, IndexError, ValueError, TypeError):
                raise CelError(
                    f"JSONPath: {kind} operation does not apply: doc is missing "
                    f"key: {op.get('path')}: missing value"
                ) from None
            continue
        raise CelError(f"not modelled: JSON Patch op {kind!r}")
    return doc


class TestFailed(Exception):
    """A ``test`` operation failed: the patch is not applied (no error)."""


# ------------------------------------------------------------------------------ matching


def label_selector_matches(selector: Obj | None, labels: Obj) -> bool:
    """A metav1.LabelSelector; an empty or absent one matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op)
        if not ok:
            return False
    return True


def _rule_matches(rule: Obj, group: str, version: str, resource: str, operation: str) -> bool:
    def has(values: list[str] | None, want: str) -> bool:
        return bool(values) and ("*" in (values or []) or want in (values or []))

    return (
        has(rule.get("apiGroups"), group)
        and has(rule.get("apiVersions"), version)
        and has(rule.get("resources"), resource)
        and has(rule.get("operations"), operation)
    )


def resources_match(
    match: Obj | None, obj: Obj, namespace: Obj | None, operation: str, *, required: bool
) -> bool:
    """``matchConstraints`` (``required``: resource rules must name the request) or a
    binding's ``matchResources`` (absent: everything the policy matches)."""
    if match is None:
        return not required
    api = str(obj.get("apiVersion", "v1"))
    group, version = api.split("/") if "/" in api else ("", api)
    resource = str(obj["kind"]).lower() + "s"
    rules = match.get("resourceRules") or []
    if (rules or required) and not any(
        _rule_matches(r, group, version, resource, operation) for r in rules
    ):
        return False
    if any(
        _rule_matches(r, group, version, resource, operation)
        for r in match.get("excludeResourceRules") or []
    ):
        return False
    ns_labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    if namespace is not None and not label_selector_matches(
        match.get("namespaceSelector"), ns_labels
    ):
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return label_selector_matches(match.get("objectSelector"), labels)


# ------------------------------------------------------------------------- validation


def validate_policy(obj: Obj) -> list[str]:
    """The API server's validation of a MutatingAdmissionPolicy (the parts airbox
    meets): each problem as "field: message"."""
    spec = obj.get("spec") or {}
    problems: list[str] = []
    mc = spec.get("matchConstraints")
    if not isinstance(mc, dict) or not mc.get("resourceRules"):
        problems.append("spec.matchConstraints.resourceRules: Required value")
    if spec.get("reinvocationPolicy") not in ("Never", "IfNeeded"):
        problems.append(
            "spec.reinvocationPolicy: Unsupported value: "
            f"{json.dumps(spec.get('reinvocationPolicy'))}: supported values: "
            '"IfNeeded", "Never"'
        )
    if spec.get("failurePolicy", "Fail") not in ("Fail", "Ignore"):
        problems.append(
            "spec.failurePolicy: Unsupported value: "
            f"{json.dumps(spec.get('failurePolicy'))}: supported values: "
            '"Fail", "Ignore"'
        )
    mutations = spec.get("mutations") or []
    if not mutations:
        problems.append("spec.mutations: Required value: mutations must contain at least one item")
    for index, mutation in enumerate(mutations):
        where = f"spec.mutations[{index}]"
        kind = mutation.get("patchType")
        if kind == "JSONPatch":
            expression = (mutation.get("jsonPatch") or {}).get("expression")
        elif kind == "ApplyConfiguration":
            expression = (mutation.get("applyConfiguration") or {}).get("expression")
        else:
            problems.append(f"{where}.patchType: Unsupported value: {json.dumps(kind)}")
            continue
        if not expression:
            problems.append(f"{where}: Required value")
            continue
        try:
            compile_expr(str(expression))
        except CelError as exc:
            section = "jsonPatch" if kind == "JSONPatch" else "applyConfiguration"
            problems.append(
                f"{where}.{section}.expression: Invalid value: "
                f'"{expression}": compilation failed: ERROR: <input>: {exc}'
            )
    for index, cond in enumerate(spec.get("matchConditions") or []):
        try:
            compile_expr(str(cond.get("expression") or ""))
        except CelError as exc:
            problems.append(
                f"spec.matchConditions[{index}].expression: Invalid value: "
                f"compilation failed: ERROR: <input>: {exc}"
            )
    return problems


def validate_binding(obj: Obj) -> list[str]:
    if not (obj.get("spec") or {}).get("policyName"):
        return ["spec.policyName: Required value"]
    return []


# ------------------------------------------------------------------------------- admit


def admit(
    obj: Obj, operation: str, namespace: Obj | None, policies: list[Obj], bindings: list[Obj]
) -> Obj:
    """``obj`` after every bound policy that matches it; raises ``Denied`` when one with
    ``failurePolicy: Fail`` errs."""
    for policy in sorted(policies, key=lambda p: p["metadata"]["name"]):
        name = policy["metadata"]["name"]
        spec = policy.get("spec") or {}
        if not resources_match(
            spec.get("matchConstraints"), obj, namespace, operation, required=True
        ):
            continue
        for binding in sorted(bindings, key=lambda b: b["metadata"]["name"]):
            bspec = binding.get("spec") or {}
            if bspec.get("policyName") != name:
                continue
            if not resources_match(
                bspec.get("matchResources"), obj, namespace, operation, required=False
            ):
                continue
            try:
                obj = _run_policy(spec, obj, namespace)
            except CelError as exc:
                if spec.get("failurePolicy", "Fail") == "Ignore":
                    continue
                raise Denied(
                    f"policy '{name}' with binding '{binding['metadata']['name']}' "
                    f"denied request: {exc}"
                ) from None
    return obj


def _run_policy(spec: Obj, obj: Obj, namespace: Obj | None) -> Obj:
    def env_for(current: Obj) -> dict[str, Any]:
        env: dict[str, Any] = {
            "object": current,
            "oldObject": None,
            "params": None,
            "namespaceObject": namespace,
            "request": {"operation": "CREATE"},
        }
        variables: dict[str, Any] = {}
        for var in spec.get("variables") or []:
            tree = compile_expr(str(var.get("expression") or ""))
            variables[str(var.get("name"))] = Lazy(functools.partial(evaluate, tree, env))
        env["variables"] = variables
        return env

    for cond in spec.get("matchConditions") or []:
        if not _bool(evaluate(compile_expr(str(cond.get("expression") or "")), env_for(obj))):
            return obj
    for mutation in spec.get("mutations") or []:
        if mutation.get("patchType") != "JSONPatch":
            raise CelError(
                "fakek8s: only JSONPatch mutations are modelled (an apply "
                "configuration may not set an atomic struct such as "
                "secretKeyRef: may not mutate atomic arrays, maps or structs)"
            )
        tree = compile_expr(str((mutation.get("jsonPatch") or {}).get("expression") or ""))
        result = evaluate(tree, env_for(obj))
        if not isinstance(result, list):
            raise CelError("type mismatch: JSONPatchType.expression should evaluate to array")
        ops: list[Obj] = []
        for item in result:
            if not isinstance(item, Typed) or item.type_name != "JSONPatch":
                raise CelError(
                    "type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch"
                )
            value = item.fields.get("value")
            if isinstance(value, Typed):
                check_type_names(value)
            for entry in value if isinstance(value, list) else []:
                if isinstance(entry, Typed):
                    check_type_names(entry)
            op = {"op": item.fields.get("op"), "path": item.fields.get("path")}
            if "value" in item.fields:
                op["value"] = _plain(value)
            ops.append(op)
        try:
            obj = apply_json_patch(obj, ops)
        except TestFailed:
            continue
    return obj
