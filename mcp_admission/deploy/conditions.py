"""matchConditions: the engine's recognition of MCP workloads as CEL, so the apiserver itself keeps every
other write from leaving it (Kubernetes 1.30+, where matchConditions are GA).

A webhook is sent a request exactly when the engine would decide it: `workload_of` (policies/engine/
decide.py) finds an MCP workload — ToolHive's resources; Services, StatefulSets and Deployments with
ToolHive's labels, the opt-in label, a configured selector, or (Services) ToolHive's owners — that did not
opt out of every policy with `mcp-admission.io/skip-policies: "*"`. The rules send only the kinds the
webhook's policies read, CREATE and UPDATE, no subresources; the namespaceSelector leaves out the
excluded namespaces. tests/deploy proves the equality on random configurations and objects.
`oldObject` is not read: the engine decides an UPDATE by the object to be stored (an UPDATE that drops
the marks is one it leaves alone), so sending on the old object's marks would only add calls.

Only CEL's standard library is used, all of it in the apiserver's environment long before 1.30 (and
unchanged through 1.36): has(), type(), size(), `in`, startsWith(), matches() and the exists() macro; no
extension library. `object` is untyped (dyn) there and `request` is built from the AdmissionRequest's
JSON, whose empty fields are absent: every field is guarded with has() and a type check — a condition
that fails hands the request to the failurePolicy, and with Ignore an MCP workload would go unpatched.

No object makes them expensive (docs/policies.md, "What the CEL costs"). The conditions run before the
apiserver validates the object, on anything up to its 3 MiB request limit, and their author controls
labels, annotations and ownerReferences. So: a label is read by key (a map lookup, whatever the map's
size); the opt-out annotation is tested by one RE2 match, linear in its length, never split into a list,
and only when it has at most MAX_SKIP_LENGTH characters; the one loop, over ownerReferences, runs only
when there are at most MAX_OWNER_REFERENCES of them, and does a fixed amount of work per reference (an
owner's name is copied only when shorter than the Service's). tests/deploy/test_cel_cost.py holds them
to that on adversarial objects.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

from mcp_admission.policies import (
    APP_NAME_LABEL,
    BACKEND_SERVICE_PREFIX,
    HEADLESS_SUFFIX,
    MAX_OWNER_REFERENCES,
    MAX_SKIP_LENGTH,
    MCP_RESOURCE_KINDS,
    SKIP_ANNOTATION,
    SPACES,
    TOOLHIVE_APP_NAMES,
    TOOLHIVE_GROUP,
    TOOLHIVE_LABEL,
    TOOLHIVE_TRANSPORT_LABEL,
    TRANSPORT_LABEL,
    LabelSelectorRequirement,
    PolicyConfig,
    WorkloadSelector,
)

RECOGNISED = "mcp-workload"  # the names the apiserver reports; qualified names, as it requires
NOT_OPTED_OUT = "not-opted-out"

# The engine's mapping() and text(): a value of another type counts as absent. `object` is a map on
# every CREATE and UPDATE (the only operations the rules send); it is null on DELETE.
_METADATA = "type(object) == map && has(object.metadata) && type(object.metadata) == map"
_LABELS = "object.metadata.labels"
_HAS_LABELS = f"{_METADATA} && has({_LABELS}) && type({_LABELS}) == map"
_ANNOTATIONS = "object.metadata.annotations"
_OWNERS = "object.metadata.ownerReferences"
# request.name and request.namespace are absent when empty (the AdmissionRequest's JSON omits them).
_NAMESPACE = '(has(request.namespace) ? request.namespace : "")'
_NAME = (
    "(has(object.metadata.name) && type(object.metadata.name) == string ? object.metadata.name"
    ' : (has(request.name) ? request.name : ""))'
)
_LINE = 100  # a conjunction longer than this is written one operand a line


def literal(text: str) -> str:
    """A CEL string literal for any text (configured label values and namespaces are not checked)."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char.isprintable():
            escaped.append(char)
        else:
            code = ord(char)
            escaped.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(escaped) + '"'


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(literal(v) for v in sorted(set(values))) + "]"


def _grouped(expr: str) -> bool:
    """Whether `expr` is one parenthesised group already: its first parenthesis closes at its end."""
    depth = 0
    for index, char in enumerate(expr):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index == len(expr) - 1 and char == ")"
    return False


def group(expr: str) -> str:
    if _grouped(expr):
        return expr
    if "\n" not in expr:
        return f"({expr})"
    return "(\n" + textwrap.indent(expr, "  ") + "\n)"


def any_of(parts: Iterable[str], top: bool = False) -> str:
    """A disjunction, simplified; parenthesised unless it is a whole expression (`top`)."""
    kept = [p for p in dict.fromkeys(parts) if p != "false"]
    if "true" in kept:
        return "true"
    if not kept:
        return "false"
    if len(kept) == 1:
        return kept[0]
    joined = " ||\n".join(group(p) if " && " in p or "\n" in p else p for p in kept)
    return joined if top else group(joined)


def all_of(parts: Iterable[str]) -> str:
    """A conjunction, simplified (&& binds tighter than ||, so it needs no parentheses of its own)."""
    kept = [p for p in dict.fromkeys(parts) if p != "true"]
    if "false" in kept:
        return "false"
    if not kept:
        return "true"
    one_line = " && ".join(kept)
    return one_line if len(one_line) <= _LINE and "\n" not in one_line else " &&\n".join(kept)


def negate(expr: str) -> str:
    return "true" if expr == "false" else "false" if expr == "true" else f"!{group(expr)}"


def _has_label(key: str) -> str:
    return f"{literal(key)} in {_LABELS}"


def _label_in(key: str, values: Iterable[str]) -> str:
    return f"({_has_label(key)} && {_LABELS}[{literal(key)}] in {_list(values)})"


def _label_is(key: str, value: str) -> str:
    return f"({_has_label(key)} && {_LABELS}[{literal(key)}] == {literal(value)})"


def _requirement(req: LabelSelectorRequirement, labelled: bool) -> str:
    """One matchExpression, as selector_matches reads it; on an object without labels (`labelled`
    False) it is decided here: only NotIn and DoesNotExist hold for absent labels."""
    if not labelled:
        return "true" if req.operator in ("NotIn", "DoesNotExist") else "false"
    if req.operator == "In":
        return _label_in(req.key, req.values)
    if req.operator == "NotIn":
        return negate(_label_in(req.key, req.values))
    if req.operator == "Exists":
        return _has_label(req.key)
    return negate(_has_label(req.key))


def _selector(sel: WorkloadSelector, kinds: frozenset[str], labelled: bool) -> str:
    """selector_matches: every condition the selector gives holds. A kind list that names every kind
    this webhook is sent needs no test."""
    return all_of(
        [
            f"request.kind.kind in {_list(sel.kinds)}"
            if sel.kinds and not kinds <= set(sel.kinds)
            else "true",
            f"{_NAMESPACE} in {_list(sel.namespaces)}" if sel.namespaces else "true",
            *(_label_is(k, v) if labelled else "false" for k, v in sel.match_labels.items()),
            *(_requirement(r, labelled) for r in sel.match_expressions),
        ]
    )


def _by_labels(config: PolicyConfig, kinds: frozenset[str]) -> str:
    """ToolHive's labels, the opt-in label and the selectors; labels of the wrong type count as none."""
    selectors = [s for s in config.workloads.selectors if not s.kinds or kinds & set(s.kinds)]
    labelled = any_of(
        [
            _label_is(config.workloads.opt_in_label, "true"),
            _label_is(TOOLHIVE_LABEL, "true"),
            _label_in(APP_NAME_LABEL, TOOLHIVE_APP_NAMES),
            *(_selector(s, kinds, labelled=True) for s in selectors),
        ]
    )
    unlabelled = any_of(_selector(s, kinds, labelled=False) for s in selectors)
    if unlabelled == "false":
        return all_of([_HAS_LABELS, labelled])
    return f"({_HAS_LABELS} ?\n" + textwrap.indent(f"{labelled} :\n{unlabelled}", "  ") + "\n)"


def _owned_by_mcp() -> str:
    """_owned_by_mcp: a ToolHive resource owns the Service, or the StatefulSet X owns mcp-X(-headless).
    An ownerReference counts only with string apiVersion, kind and name."""
    fields = " && ".join(f"has(r.{f}) && type(r.{f}) == string" for f in ("apiVersion", "kind", "name"))
    backend = literal(BACKEND_SERVICE_PREFIX) + " + r.name"
    owner = any_of(
        [
            f"r.kind in {_list(MCP_RESOURCE_KINDS)} && (r.apiVersion == {literal(TOOLHIVE_GROUP)}"
            f" || r.apiVersion.startsWith({literal(TOOLHIVE_GROUP + '/')}))",
            # Only an owner's name shorter than the Service's can make its mcp-X(-headless): the names
            # are put together only then, so a long owner's name costs no copy (an accepted Service's
            # own name has at most 63 characters).
            all_of(
                [
                    'r.kind == "StatefulSet"',
                    f"size(r.name) < size{_NAME}",  # _NAME is one parenthesised group
                    f"{_NAME} in [{backend}, {backend} + {literal(HEADLESS_SUFFIX)}]",
                ]
            ),
        ]
    )
    return all_of(
        [
            'request.kind.kind == "Service"',
            _METADATA,
            f"has({_OWNERS}) && type({_OWNERS}) == list",
            f"size({_OWNERS}) <= {MAX_OWNER_REFERENCES}",
            f"{_OWNERS}.exists(r,\n"
            + textwrap.indent(f"type(r) == map &&\n{fields} &&\n{owner}", "  ")
            + "\n)",
        ]
    )


def _recognised(config: PolicyConfig, kinds: frozenset[str]) -> str:
    """recognise_object for the kinds the rules send: ToolHive's resources always (the rules name only
    the MCP ones, never EmbeddingServer); the other kinds by labels, selectors and owners."""
    core = kinds - MCP_RESOURCE_KINDS
    return any_of(
        [
            f"request.kind.group == {literal(TOOLHIVE_GROUP)}" if kinds & MCP_RESOURCE_KINDS else "false",
            _by_labels(config, core) if core else "false",
            _owned_by_mcp() if "Service" in core else "false",
        ],
        top=True,
    )


def _char_class(chars: str) -> str:
    """An RE2 character class of exactly `chars`, runs of three or more as ranges: the apiserver prices
    matches() by the length of the pattern."""
    runs: list[list[str]] = []
    for char in sorted(set(chars)):
        if runs and ord(runs[-1][-1]) == ord(char) - 1:
            runs[-1].append(char)
        else:
            runs.append([char])
    quoted = [["\\" + c if c in "\\]^-[" else c for c in run] for run in runs]
    return "[" + "".join(f"{q[0]}-{q[-1]}" if len(q) >= 3 else "".join(q) for q in quoted) + "]"


# "*" as one of the comma-separated entries, SPACES around it ignored: the engine's _skipped. One RE2
# match, linear in the annotation's length (RE2 never backtracks), on at most MAX_SKIP_LENGTH
# characters; the annotation is never split.
_SPACE = _char_class(SPACES)


def opt_out_pattern(entry: str) -> str:
    """The RE2 pattern of `entry` among the comma-separated entries, SPACES around it ignored. An entry is
    "*" or a policy ID (lower-case letters, digits and "-": nothing RE2 reads as an operator)."""
    if entry != "*" and not re.fullmatch(r"[a-z0-9-]+", entry):
        raise ValueError(f"not an opt-out entry: {entry!r}")
    return f"(^|,){_SPACE}*{'[*]' if entry == '*' else entry}{_SPACE}*(,|$)"


OPT_OUT_PATTERN = opt_out_pattern("*")


def opted_out(entry: str = "*") -> str:
    """`entry` among the comma-separated entries of the opt-out annotation (SPACES around them ignored):
    the engine's `_skipped`, for "*" (every policy) or one policy's ID."""
    value = f"{_ANNOTATIONS}[{literal(SKIP_ANNOTATION)}]"
    return all_of(
        [
            _METADATA,
            f"has({_ANNOTATIONS}) && type({_ANNOTATIONS}) == map",
            f"{literal(SKIP_ANNOTATION)} in {_ANNOTATIONS}",
            f"type({value}) == string",
            f"size({value}) <= {MAX_SKIP_LENGTH}",
            f"{value}.matches({literal(opt_out_pattern(entry))})",
        ]
    )


def match_conditions(config: PolicyConfig, kinds: Iterable[str]) -> list[dict[str, str]]:
    """The matchConditions of a webhook whose rules send `kinds` (all must hold). A webhook sent only
    ToolHive's resources needs no recognition: its rules already say all of it."""
    kinds = frozenset(kinds)
    conditions = []
    if kinds - MCP_RESOURCE_KINDS:
        conditions.append({"name": RECOGNISED, "expression": _recognised(config, kinds)})
    conditions.append({"name": NOT_OPTED_OUT, "expression": negate(opted_out())})
    return conditions


def _marked(config: PolicyConfig) -> str:
    """The marks that select an object before any selector (recognise_object's `selected`), for a kind
    with no owner rule (StatefulSet, Deployment); only where the object has labels."""
    return any_of(
        [
            _label_is(config.workloads.opt_in_label, "true"),
            _label_is(TOOLHIVE_LABEL, "true"),
            _label_in(APP_NAME_LABEL, TOOLHIVE_APP_NAMES),
        ]
    )


def _first_selector_says(config: PolicyConfig, kinds: frozenset[str], transport: str, labelled: bool) -> str:
    """The first selector that matches names `transport` (none matching: false)."""
    result = "false"
    for sel in reversed([s for s in config.workloads.selectors if not s.kinds or kinds & set(s.kinds)]):
        matches = _selector(sel, kinds, labelled)
        says = "true" if sel.transport == transport else "false"
        if matches == "true":
            result = says
        elif matches != "false" and says != result:
            result = f"({group(matches)} ? {says} : {result})"
    return result


def _label_text(key: str, non_empty: bool) -> str:
    test = f' && {_LABELS}[{literal(key)}] != ""' if non_empty else ""
    return f"({_has_label(key)} && type({_LABELS}[{literal(key)}]) == string{test})"


def transport_is(config: PolicyConfig, kinds: Iterable[str], transport: str) -> str:
    """The workload's transport (recognise_object's, on a recognised Service, StatefulSet or Deployment
    with no owner rule) is `transport`: mcp-admission.io/transport, else toolhive-transport, else the
    first matching selector's. An empty transport label counts as none, except that an object marked by
    its labels then has none (a selector does not fill it in)."""
    kinds = frozenset(kinds)
    ours, theirs = _label_text(TRANSPORT_LABEL, True), _label_text(TOOLHIVE_TRANSPORT_LABEL, True)
    toolhive = _label_text(TOOLHIVE_TRANSPORT_LABEL, False)
    value = literal(transport)
    labelled = (
        f"{ours} ? {_LABELS}[{literal(TRANSPORT_LABEL)}] == {value} :\n"
        f"{theirs} ? {_LABELS}[{literal(TOOLHIVE_TRANSPORT_LABEL)}] == {value} :\n"
        f"({toolhive} && {_marked(config)}) ? false :\n"
        f"{_first_selector_says(config, kinds, transport, labelled=True)}"
    )
    unlabelled = _first_selector_says(config, kinds, transport, labelled=False)
    return f"({_HAS_LABELS} ?\n" + textwrap.indent(f"({labelled}) :\n{unlabelled}", "  ") + "\n)"
