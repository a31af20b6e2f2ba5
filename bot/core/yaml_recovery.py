"""YAML syntax errors in plain words, at the line where the mistake starts, and set aside.

Parsers report where they gave up: "found unexpected end of stream" ten lines after a missing
quote. Here each error is traced back to what probably caused it (the opening quote or
bracket, a tab, a line out of step with the lines above it) and worded for a shop owner.
`set_aside` then replaces the rule, contact or setting holding that line with a placeholder,
so the rest of the file can be read and checked in the same run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

#: what a set-aside part reads as (a double-quoted "\x01": no one types that)
UNREADABLE_TEXT = "\x01"
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_PLACEHOLDER = '"\\x01"'
_KEY_HEAD = re.compile(r"^(\s*)([^\s#:\-\[\]{}'\"][^:#]*?|'[^']*'|\"[^\"]*\"):(\s|$)")
_NO_SPACE_AFTER_COLON = re.compile(r"(?:^|\s|-)([A-Za-z_]+):(?=[^\s/])")


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A YAML syntax error as a shop owner should read it; line and column are 0-based."""

    line: int
    column: int
    message: str
    hint: str | None


def explain_syntax_error(exc: yaml.MarkedYAMLError, text: str) -> SyntaxProblem:
    """What is probably wrong, at the place where it starts (the same for libyaml and PyYAML)."""
    try:
        return _explain(exc, text)
    except IndexError:  # a position outside the lines we see: say only where
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column) if mark is not None else (0, 0)
        return SyntaxProblem(line, column, "this line cannot be read", None)


def _split_lines(text: str) -> list[str]:
    """Lines as YAML counts them (\\r, \\r\\n, NEL and the Unicode separators end a line too)."""
    return _LINE_BREAK.split(text)


def _explain(exc: yaml.MarkedYAMLError, text: str) -> SyntaxProblem:
    lines = _split_lines(text)
    problem = exc.problem or ""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    start = exc.context_mark or mark
    line = mark.line if mark is not None else 0
    column = mark.column if mark is not None else 0
    if "nesting depth" in problem:  # libyaml's own limit, before ours is reached
        return SyntaxProblem(line, column, "nesting too deep for a rule file", None)
    tab = _first_tab_indent(lines, line)
    if tab is not None:
        return SyntaxProblem(
            tab, lines[tab].index("\t"), "this line is indented with a tab", _TABS_HINT
        )
    if "quoted scalar" in context and start is not None:
        quote = lines[start.line][start.column : start.column + 1] or '"'
        return SyntaxProblem(
            start.line,
            start.column,
            f"this quote {quote} is never closed",
            f"end the text with {quote} on the same line",
        )
    if "flow sequence" in context or "flow mapping" in context:
        return _unclosed_bracket(exc, lines)
    opened = _quote_closed_later(text, line)
    if opened is not None:
        quote_line, quote_column, closed_on = opened
        quote = lines[quote_line][quote_column]
        return SyntaxProblem(
            quote_line,
            quote_column,
            f"this quote {quote} is closed only on line {closed_on + 1}",
            f"a closing {quote} is probably missing at the end of this line",
        )
    here = lines[line] if line < len(lines) else ""
    char = here[column : column + 1]
    if "simple key" in context and "':'" in problem and start is not None:
        word = lines[start.line][start.column :].split()[0] if lines[start.line].strip() else ""
        return SyntaxProblem(
            start.line,
            start.column,
            f"a ':' is missing after '{word}'",
            "write  key: value  with ': ' between them",
        )
    if char in ("@", "`"):
        return SyntaxProblem(
            line,
            column,
            f"text starting with {char} must be in quotes",
            f'write "{here[column:].strip()}"',
        )
    for number in (line, _previous_line(lines, line)):
        text = lines[number] if number is not None else ""
        glued_dash = re.match(r"^(\s*)-[^\s\-]", text)
        if number is not None and glued_dash:
            return SyntaxProblem(
                number, len(glued_dash[1]), "a space is missing after '-'", "write  - name: ..."
            )
    if "mapping values are not allowed" in problem:
        return _colon_problem(lines, line, column)
    if char == "-" and column == 0 and _top_is_mapping(lines, line):
        return SyntaxProblem(
            line,
            0,
            "this list item belongs to no key",
            "is the 'rules:' line missing above it?",
        )
    if _is_block_problem(problem):
        return _indentation_problem(lines, line)
    return SyntaxProblem(
        line,
        column,
        "this line cannot be read",
        f"YAML says: {problem}" if problem else None,
    )


def _previous_line(lines: list[str], line: int) -> int | None:
    """The nearest line above `line` with content (not blank, not a comment)."""
    for number in range(min(line, len(lines)) - 1, -1, -1):
        if lines[number].strip() and not lines[number].lstrip().startswith("#"):
            return number
    return None


_TABS_HINT = "indent with spaces only; a tab can look like spaces in an editor"


def _first_tab_indent(lines: list[str], last: int) -> int | None:
    for number, text in enumerate(lines[: last + 1]):
        indent = text[: len(text) - len(text.lstrip(" \t"))]
        if "\t" in indent and text.strip():
            return number
    return None


def _unclosed_bracket(exc: yaml.MarkedYAMLError, lines: list[str]) -> SyntaxProblem:
    start = exc.context_mark
    mark = exc.problem_mark
    assert start is not None and mark is not None
    opening = lines[start.line][start.column : start.column + 1] or "["
    closing = "]" if opening == "[" else "}"
    what = "list" if opening == "[" else "mapping"
    quote = _unclosed_quote(lines[start.line], start.column)
    if quote is not None:  # the quote took the closing bracket into its text
        mark_char = lines[start.line][quote]
        return SyntaxProblem(
            start.line,
            quote,
            f"this quote {mark_char} is never closed",
            f"end the text with {mark_char}, before the {closing}",
        )
    if mark.line > start.line:
        return SyntaxProblem(
            start.line,
            start.column,
            f"this {opening} is never closed with {closing}",
            f"add {closing} at the end of the {what}",
        )
    return SyntaxProblem(
        mark.line,
        mark.column,
        f"a ',' or '{closing}' is missing before this",
        'separate the words with commas: [sales, price, "how much"]'
        if opening == "["
        else "write it as {key: value, key: value}",
    )


def _unclosed_quote(line: str, start: int) -> int | None:
    """The column of a quote opened after `start` on `line` and not closed on it."""
    opened: int | None = None
    for column in range(start, len(line)):
        char = line[column]
        if opened is None and char in "\"'" and line[column - 1 : column] in ("[", "{", " ", ","):
            opened = column
        elif opened is not None and char == line[opened]:
            opened = None
        elif opened is None and char == "#" and line[column - 1 : column] == " ":
            break
    return opened


def _quote_closed_later(text: str, line: int) -> tuple[int, int, int] | None:
    """A quoted text that started on an earlier line and ends on this one: a missing quote."""
    found = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.line > line:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ("'", '"')
                and token.end_mark.line > token.start_mark.line
            ):
                found = (token.start_mark.line, token.start_mark.column, token.end_mark.line)
    except yaml.YAMLError:
        pass
    return found


def _colon_problem(lines: list[str], line: int, column: int) -> SyntaxProblem:
    """'mapping values are not allowed': a missing space after ':', a second ': ', or indent."""
    for number in (line - 1, line):
        if number < 0:
            continue
        glued = _NO_SPACE_AFTER_COLON.search(lines[number].split("#")[0])
        if glued and not lines[number].lstrip().startswith(("'", '"')):
            return SyntaxProblem(
                number,
                glued.start(1),
                f"a space is missing after '{glued[1]}:'",
                f"write  {glued[1]}: value",
            )
    here = lines[line]
    if here[:column].count(": ") >= 1 and here[:column].strip():
        return SyntaxProblem(
            line,
            column,
            "a second ': ' on this line",
            "put text containing ': ' in quotes",
        )
    return _indentation_problem(lines, line)


def _is_block_problem(problem: str) -> bool:
    return any(
        words in problem
        for words in ("block end", "expected key", "'-' indicator", "expected <document")
    )


def _content_column(text: str) -> int:
    """Where a line's key or value starts: after its indentation and any '- '."""
    stripped = text.lstrip(" ")
    column = len(text) - len(stripped)
    while stripped.startswith("- "):
        stripped = stripped[2:].lstrip(" ")
        column = len(text) - len(stripped)
    return column


def _indentation_problem(lines: list[str], line: int) -> SyntaxProblem:
    here = lines[line] if line < len(lines) else ""
    indent = len(here) - len(here.lstrip(" "))
    words = here.strip().split(":")[0].split()
    word = words[0] if words else here.strip()[:1]
    for number in range(line - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        expected = _content_column(above)
        if expected != indent and not above.rstrip().endswith(":"):
            return SyntaxProblem(
                line,
                indent,
                f"'{word}' is not lined up with the line above it",
                f"indent it {expected} spaces, like line {number + 1}",
            )
        break
    return SyntaxProblem(
        line,
        indent,
        f"'{word}' is not lined up with the lines around it",
        "lines of one rule or contact start in the same column; indent with spaces",
    )


def _top_is_mapping(lines: list[str], line: int) -> bool:
    for text in lines[:line]:
        if text.strip() and not text.lstrip().startswith("#") and not text.startswith(" "):
            return not text.startswith("-")
    return False


# ---- setting a part of the file aside --------------------------------------------------


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _structural(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def set_aside(text: str, line: int) -> str | None:
    """`text` with the part holding `line` (0-based) replaced by a placeholder; line numbers kept.

    The part is the rule or contact (an item of a top-level list or mapping) holding the line,
    else the whole top-level setting. None if there is nothing to set aside.
    """
    lines = _split_lines(text)
    if not 0 <= line < len(lines):
        return None
    first, last = _part(lines, line)
    head = lines[first]
    replaced = [""] * (last - first)
    dash = re.match(r"^(\s*)-(\s|$)", head)
    key = _KEY_HEAD.match(head)
    if dash:
        replaced[0] = f"{_spaces(dash[1])}- {_PLACEHOLDER}"
    elif key:
        replaced[0] = f"{_spaces(key[1])}{key[2]}: {_PLACEHOLDER}"
    result = "\n".join([*lines[:first], *replaced, *lines[last:]])
    if result == text:  # the placeholder itself did not help: drop the part's lines
        result = "\n".join([*lines[:first], *([""] * (last - first)), *lines[last:]])
    return None if result == text else result


def _spaces(indent: str) -> str:
    """The indentation with each tab as one space (the tab is already reported)."""
    return indent.replace("\t", " ")


def _part(lines: list[str], line: int) -> tuple[int, int]:
    """[first, last) of the part holding `line`."""
    top = None
    for number in range(line, -1, -1):
        text = lines[number]
        dash_item = text.startswith("-") and number != line
        if _structural(text) and _indent(text) == 0 and not dash_item:
            top = number
            break
    if top is None:
        return line, line + 1
    if lines[top].startswith("-"):  # list items at the top: the whole run of them
        end = top + 1
        while end < len(lines) and (
            not _structural(lines[end]) or _indent(lines[end]) > 0 or lines[end].startswith("-")
        ):
            end += 1
        return top, end
    end = top + 1
    while end < len(lines) and (
        not _structural(lines[end]) or _indent(lines[end]) > 0 or lines[end].startswith("-")
    ):
        end += 1
    children = [n for n in range(top + 1, end) if _structural(lines[n])]
    if line == top or not children:
        return top, end
    level = _indent(lines[children[0]])
    dashed = lines[children[0]].lstrip().startswith("-")

    def sibling(number: int) -> bool:
        text = lines[number]
        return _indent(text) == level and text.lstrip().startswith("-") == dashed

    heads = [n for n in children if n <= line and sibling(n)]
    if not heads:
        return top, end
    first = heads[-1]
    last = max(first, line) + 1
    while last < end and (not _structural(lines[last]) or not sibling(last)):
        if _structural(lines[last]) and _indent(lines[last]) < level:
            break
        last += 1
    return first, last
