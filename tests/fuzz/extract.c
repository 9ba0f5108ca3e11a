/*
 * tests/fuzz/extract.c: text extraction (what `llmemory add`/`ingest` run on a file, and the MCP
 * remember tool on stdio). The first byte chooses the format (HTML, PDF, Markdown, text); the
 * rest is the file. What comes back must be valid UTF-8.
 */
#include "fuzz.h"
#include "buf.h"
#include "cmd.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cli_format formats[] = {CLI_FORMAT_HTML, CLI_FORMAT_PDF, CLI_FORMAT_MARKDOWN,
                                         CLI_FORMAT_TEXT};
    lm_buf text = LM_BUF_INIT, title = LM_BUF_INIT;
    char err[256];

    if (size < 1)
        return 0;
    if (cli_extract(&text, &title, formats[data[0] % 4], (const char *)data + 1, size - 1, err,
                    sizeof(err)) == 0) {
        if (!lm__utf8_valid(text.ptr ? text.ptr : "", text.size))
            abort();
    }
    lm_buf_dispose(&text);
    lm_buf_dispose(&title);
    return 0;
}
