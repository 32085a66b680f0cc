#!/usr/bin/env python3
"""Checks of the repository itself, run by ctest (tests/CMakeLists.txt):

  check_repository.py layering ROOT         each module's includes against docs/architecture.md's table
  check_repository.py links ROOT            every relative link of README.md and docs/ resolves
  check_repository.py function-length ROOT  no function in src/ is longer than 80 lines unless
                                            docs/architecture.md names it

Each prints one line per problem, naming the file and line, and exits 1 when there is any.
Plain Python 3 (no third-party modules).
"""
import os
import re
import sys

ARCHITECTURE = os.path.join("docs", "architecture.md")
MAX_FUNCTION_LINES = 80


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The body of the Markdown section `heading` (up to the next heading of the same or a higher level)."""
    match = re.search(r"^(#+) " + re.escape(heading) + r"\s*$", text, re.M)
    if not match:
        return None
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(r"^#{1,%d} " % level, rest, re.M)
    return rest[: end.start()] if end else rest


# --- layering -------------------------------------------------------------------------------------------------

def module_table(root):
    """{module: set of modules it may include} from the table of docs/architecture.md's section "Modules"."""
    text = read(os.path.join(root, ARCHITECTURE))
    body = section(text, "Modules and their allowed dependencies")
    if body is None:
        raise SystemExit(f"{ARCHITECTURE}: no section 'Modules and their allowed dependencies'")
    allowed = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"`[a-z_]+`", cells[0]):
            continue
        module = cells[0].strip("`")
        allowed[module] = set(re.findall(r"`([a-z_]+)`", cells[-1]))
    if not allowed:
        raise SystemExit(f"{ARCHITECTURE}: the modules table has no rows")
    return allowed


def is_config_mapping(path):
    """A module's config mapping: its YAML section mapped to its options (data_config.cpp, model_config.h, ...)."""
    return re.search(r"_config\.(h|cpp)$", path) is not None


def includes(path):
    """(line number, included module, included header) of each `#include "must/<module>/..."`."""
    out = []
    for number, line in enumerate(read(path).splitlines(), 1):
        match = re.match(r'\s*#\s*include\s+"must/([a-z_]+)/([^"]+)"', line)
        if match:
            out.append((number, match.group(1), match.group(2)))
    return out


def check_layering(root):
    allowed = module_table(root)
    problems = []
    seen = set()
    for top in ("src", os.path.join("include", "must")):
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for module in sorted(os.listdir(base)):
            folder = os.path.join(base, module)
            if not os.path.isdir(folder):
                continue
            seen.add(module)
            if module not in allowed:
                problems.append(f"{os.path.join(top, module)}: module '{module}' is not in {ARCHITECTURE}'s table")
                continue
            for directory, _, files in os.walk(folder):
                for name in sorted(files):
                    if not name.endswith((".h", ".cpp")):
                        continue
                    path = os.path.join(directory, name)
                    relative = os.path.relpath(path, root)
                    mapping = is_config_mapping(name)
                    # A config mapping may also include config and the mappings of the modules its module may include.
                    reach = allowed[module] | ({"config"} if mapping else set())
                    for number, included, header in includes(path):
                        if included == module or included in reach:
                            continue
                        if mapping and is_config_mapping(header) and included in allowed[module] | {module}:
                            continue
                        problems.append(f"{relative}:{number}: module '{module}' includes must/{included}/{header}, "
                                        f"but {ARCHITECTURE} allows it only {', '.join(sorted(allowed[module])) or 'nothing'}")
    for module in sorted(set(allowed) - seen):
        problems.append(f"{ARCHITECTURE}: module '{module}' has no folder under src/ or include/must/")
    return problems


# --- links ----------------------------------------------------------------------------------------------------

def anchors(markdown):
    """GitHub's heading anchors of a Markdown text."""
    out = set()
    counts = {}
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower().replace("`", "")).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def markdown_files(root):
    files = [os.path.join(root, "README.md")] if os.path.exists(os.path.join(root, "README.md")) else []
    for directory, _, names in os.walk(os.path.join(root, "docs")):
        files += [os.path.join(directory, name) for name in sorted(names) if name.endswith(".md")]
    return files


def check_links(root):
    problems = []
    for path in markdown_files(root):
        text = read(path)
        relative = os.path.relpath(path, root)
        # Code blocks hold commands and diagrams, not links.
        prose = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for number, line in enumerate(prose.splitlines(), 1):
            for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", re.sub(r"`[^`]*`", "", line)):
                if re.match(r"[a-z]+:", target):  # https:, mailto:
                    continue
                file_part, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if not os.path.exists(resolved):
                    problems.append(f"{relative}:{number}: link '{target}' points at nothing")
                    continue
                if not os.path.realpath(resolved).startswith(os.path.realpath(root) + os.sep):
                    problems.append(f"{relative}:{number}: link '{target}' leaves the repository")
                elif anchor and resolved.endswith(".md") and anchor not in anchors(read(resolved)):
                    problems.append(f"{relative}:{number}: link '{target}': no heading '#{anchor}' there")
    return problems


# --- function length ------------------------------------------------------------------------------------------

def strip_code(text):
    """The text with comments, strings and character literals blanked (newlines kept), so braces count."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delimiter = re.match(r'R"([^(]*)\(', text[i:]).group(1)
            j = text.find(")" + delimiter + '"', i) + len(delimiter) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif text[i] == '"' or (text[i] == "'" and not (i > 0 and text[i - 1].isalnum())):
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            out.append(quote + re.sub(r"[^\n]", " ", text[i + 1:j]) + quote)
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def functions(path):
    """(first line, line count, signature) of each function body defined at namespace or class scope."""
    code = strip_code(read(path))
    stack, start, out = [], 0, []
    for i, c in enumerate(code):
        if c == ";":
            if not stack or stack[-1][0] in ("namespace", "class"):
                start = i + 1
        elif c == "{":
            if stack and stack[-1][0] in ("function", "block"):
                stack.append(("block", i, i))
                continue
            head = " ".join(code[start:i].split())
            if re.search(r"\bnamespace\b", head) or re.search(r'extern\s*""$', head):
                kind = "namespace"
            elif re.search(r"\b(struct|class|union|enum)\b[^()]*$", head):
                kind = "class"
            elif "(" in head and not re.search(r"=\s*$", head) and "=" not in head.split("(")[0]:
                kind = "function"
            else:
                kind = "block"
            stack.append((kind, i, start))
            if kind in ("namespace", "class"):
                start = i + 1
        elif c == "}" and stack:
            kind, _, begin = stack.pop()
            if kind == "function":
                while begin < len(code) and code[begin].isspace():
                    begin += 1
                first, last = code.count("\n", 0, begin) + 1, code.count("\n", 0, i) + 1
                signature = " ".join(code[begin:code.find("{", begin)].split())
                out.append((first, last - first + 1, signature))
            if not stack or stack[-1][0] in ("namespace", "class"):
                start = i + 1
    return out


def function_name(signature):
    """The qualified name before the parameter list: "Trainer::run_step"."""
    match = re.search(r"([\w:~]+)\s*\(", signature)
    return match.group(1) if match else signature


def check_function_length(root):
    text = read(os.path.join(root, ARCHITECTURE))
    body = section(text, "Functions longer than 80 lines") or ""
    # Entries name `path: function` and say why.
    excused = set(re.findall(r"`([\w./]+): ([\w:~]+)`", body))
    problems = []
    for directory, _, names in os.walk(os.path.join(root, "src")):
        for name in sorted(names):
            if not name.endswith((".h", ".cpp")):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            for first, lines, signature in functions(path):
                if lines > MAX_FUNCTION_LINES and (relative, function_name(signature)) not in excused:
                    problems.append(f"{relative}:{first}: {function_name(signature)} is {lines} lines (at most "
                                    f"{MAX_FUNCTION_LINES}, unless {ARCHITECTURE} says why under "
                                    f"'Functions longer than 80 lines' as `{relative}: {function_name(signature)}`)")
    return problems


CHECKS = {"layering": check_layering, "links": check_links, "function-length": check_function_length}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        raise SystemExit(f"usage: {sys.argv[0]} {'|'.join(CHECKS)} ROOT")
    found = CHECKS[sys.argv[1]](sys.argv[2])
    for problem in found:
        print(problem)
    print(f"{sys.argv[1]}: {len(found)} problem(s)" if found else f"{sys.argv[1]}: ok")
    sys.exit(1 if found else 0)
