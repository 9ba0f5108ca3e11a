"""The ctypes structures match the C headers (sizes and every field's offset), and the Python
enums match the library's names, as compiled by the C compiler on this machine."""

import ctypes
import shutil
import subprocess

import pytest

from conftest import ROOT
from llmemory import DocumentType, KeyScope, SearchType, _native as N


def test_struct_layouts_match_the_headers(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to compare layouts with")
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <llmemory.h>",
             "#include <llmemory/sys/embedder.h>", "int main(void) {"]
    expect = []
    structs = dict(N.STRUCTS)
    if "lm_local_embedder_opts" in (ROOT / "include" / "llmemory" / "embed.h").read_text():
        structs["lm_local_embedder_opts"] = N.LocalEmbedderOpts
    for cname, st in structs.items():
        lines.append(f'printf("%zu\\n", sizeof({cname}));')
        expect.append(f"{cname} size {ctypes.sizeof(st)}")
        for fname, *_ in st._fields_:
            lines.append(f'printf("%zu\\n", offsetof({cname}, {fname}));')
            expect.append(f"{cname}.{fname} {getattr(st, fname).offset}")
    lines += ["return 0;", "}"]
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "abi"
    subprocess.run([cc, "-I", str(ROOT / "include"), str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    mismatches = [f"{e} (C: {g})" for e, g in zip(expect, got) if e.split()[-1] != g]
    assert len(got) == len(expect)
    assert mismatches == []


def test_enums_match_the_library():
    assert [N.lib.lm_doc_type_name(i).decode() for i in range(N.DOC_TYPE_COUNT)] == [
        t.value for t in DocumentType]
    assert [N.lib.lm_search_type_name(i).decode() for i in range(3)] == [
        SearchType.TEXT.value, SearchType.VECTOR.value, SearchType.HYBRID.value]
    assert [N.lib.lm_key_scope_name(i).decode() for i in (1, 2, 3)] == [s.value for s in KeyScope]


def test_library_is_found_and_reports_its_version():
    import llmemory

    assert llmemory.library_version() == "0.1.0"
    assert llmemory.library_path().endswith("libllmemory.so")
