#!/usr/bin/env python3
"""The repository checks (check_repository.py) catch what they are for, on small trees made here."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_repository as checks  # noqa: E402

ARCHITECTURE = """# Architecture

## Modules and their allowed dependencies

| module | holds | may include |
|---|---|---|
| `core` | checks | — |
| `config` | YAML | `core` |
| `labels` | the store | `core` |
| `pipelines` | the drivers | `core`, `config`, `labels` |

## Functions longer than 80 lines

- `src/labels/excused.cpp: long_but_excused`: a reason.
"""


def function(name, lines):
    body = "".join(f"  int x{i} = {i};\n" for i in range(lines - 2))
    return f"int {name}() {{\n{body}}}\n"


class Tree:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        self.write("docs/architecture.md", ARCHITECTURE)
        self.write("README.md", "[the modules](docs/architecture.md#modules-and-their-allowed-dependencies)\n")
        for module in ("core", "config", "labels", "pipelines"):
            self.write(f"src/{module}/{module}.cpp", f'#include "must/{module}/{module}.h"\n#include "must/core/check.h"\n')

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)


class Layering(unittest.TestCase):
    def test_allowed_includes_pass(self):
        tree = Tree()
        self.assertEqual(checks.check_layering(tree.root), [])

    def test_an_include_of_a_module_above_fails_naming_the_file_and_line(self):
        tree = Tree()
        tree.write("src/labels/store.cpp", '#include "must/core/check.h"\n#include "must/pipelines/train.h"\n')
        problems = checks.check_layering(tree.root)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("src/labels/store.cpp:2: module 'labels' includes must/pipelines/train.h", problems[0])

    def test_only_a_config_mapping_may_include_config(self):
        tree = Tree()
        tree.write("src/labels/policy_config.cpp", '#include "must/config/config.h"\n')
        self.assertEqual(checks.check_layering(tree.root), [])
        tree.write("src/labels/policy.cpp", '#include "must/config/config.h"\n')
        self.assertEqual(len(checks.check_layering(tree.root)), 1)

    def test_a_module_missing_from_the_table_fails(self):
        tree = Tree()
        tree.write("src/world/render.cpp", '#include "must/core/check.h"\n')
        self.assertIn("module 'world' is not in", checks.check_layering(tree.root)[0])


class Links(unittest.TestCase):
    def test_links_and_anchors_that_resolve_pass(self):
        self.assertEqual(checks.check_links(Tree().root), [])

    def test_a_missing_file_or_heading_fails(self):
        tree = Tree()
        tree.write("docs/guide.md", "# Guide\n\nSee [gone](missing.md), [no such part](architecture.md#nothing), "
                                    "[fine](../README.md) and `[code](not/a/link.md)`.\n\n```\n[x](nowhere)\n```\n")
        problems = checks.check_links(tree.root)
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("docs/guide.md:3: link 'missing.md' points at nothing", problems[0])
        self.assertIn("no heading '#nothing'", problems[1])


class FunctionLength(unittest.TestCase):
    def test_a_long_function_fails_unless_the_architecture_page_names_it(self):
        tree = Tree()
        tree.write("src/labels/short.cpp", function("short_one", 80))
        tree.write("src/labels/excused.cpp", function("long_but_excused", 120))
        self.assertEqual(checks.check_function_length(tree.root), [])
        tree.write("src/labels/long.cpp", "namespace must {\n" + function("long_one", 81) + "}\n")
        problems = checks.check_function_length(tree.root)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("src/labels/long.cpp:2: long_one is 81 lines", problems[0])

    def test_braces_in_strings_comments_and_lambdas_do_not_confuse_the_count(self):
        tree = Tree()
        tree.write("src/labels/tricky.cpp", 'struct S {\n  int f() {\n    auto g = [] { return "}}"; };  // }\n'
                                            "    return 1;\n  }\n};\nint h() { return '{'; }\n")
        found = checks.functions(os.path.join(tree.root, "src/labels/tricky.cpp"))
        self.assertEqual([(first, lines) for first, lines, _ in found], [(2, 4), (7, 1)])


if __name__ == "__main__":
    unittest.main()
