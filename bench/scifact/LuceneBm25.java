/*
 * bench/scifact/LuceneBm25.java: the Lucene 8 BM25 reference for bench/scifact/run.sh, set up as
 * Anserini's BEIR "flat" regression: title + " " + text in one field, EnglishAnalyzer,
 * BM25Similarity(k1 = 0.9, b = 0.4), each query a disjunction (SHOULD) of its analyzed terms with
 * a repeated term's boost summed. Indexes in memory, searches every judged query of a split a few
 * times untimed (the JIT compiles the hot paths only after a few thousand searches; a running
 * server is in that state) and once timed, and writes a TREC run. No JSON library: the small reader
 * below handles the JSON that BEIR files use.
 *
 * Usage: java -cp LUCENE_JARS:. LuceneBm25 CORPUS.jsonl QUERIES.jsonl QRELS.tsv RUN_OUT [DEPTH
 *        [WARMUP_PASSES]]        (defaults: 100 documents, 5 passes)
 * Prints "lucene ... key=value" lines on stdout; see run.sh.
 */
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;

public final class LuceneBm25 {
    private static final String FIELD = "contents";
    private static final String ID = "id";

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: LuceneBm25 CORPUS.jsonl QUERIES.jsonl QRELS.tsv RUN_OUT [DEPTH [WARMUP_PASSES]]");
            System.exit(2);
        }
        int depth = args.length > 4 ? Integer.parseInt(args[4]) : 100;
        int warmup = args.length > 5 ? Integer.parseInt(args[5]) : 5;
        Analyzer analyzer = new EnglishAnalyzer();
        BM25Similarity sim = new BM25Similarity(0.9f, 0.4f);
        ByteBuffersDirectory dir = new ByteBuffersDirectory();

        long t0 = System.nanoTime();
        int ndocs = 0;
        IndexWriterConfig cfg = new IndexWriterConfig(analyzer);
        cfg.setSimilarity(sim);
        cfg.setRAMBufferSizeMB(256);
        try (IndexWriter w = new IndexWriter(dir, cfg);
             BufferedReader r = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isBlank())
                    continue;
                Map<String, Object> o = Json.object(line);
                Document d = new Document();
                d.add(new StringField(ID, str(o.get("_id")), Field.Store.YES));
                d.add(new TextField(FIELD, str(o.get("title")) + " " + str(o.get("text")), Field.Store.NO));
                w.addDocument(d);
                ndocs++;
            }
            w.forceMerge(1);
        }
        double indexS = (System.nanoTime() - t0) / 1e9;

        // Judged query ids in order of first appearance, then their texts.
        LinkedHashSet<String> judged = new LinkedHashSet<>();
        for (String line : Files.readAllLines(Paths.get(args[2]), StandardCharsets.UTF_8)) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 3 || f[0].equals("query-id"))
                continue;
            judged.add(f[0]);
        }
        Map<String, String> texts = new HashMap<>();
        for (String line : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
            if (line.isBlank())
                continue;
            Map<String, Object> o = Json.object(line);
            String id = str(o.get("_id"));
            if (judged.contains(id))
                texts.put(id, str(o.get("text")));
        }
        List<String> qids = new ArrayList<>();
        for (String id : judged)
            if (texts.containsKey(id))
                qids.add(id);

        BooleanQuery.setMaxClauseCount(65536);
        try (DirectoryReader reader = DirectoryReader.open(dir);
             PrintWriter out = new PrintWriter(Files.newBufferedWriter(Paths.get(args[3]), StandardCharsets.UTF_8))) {
            IndexSearcher searcher = new IndexSearcher(reader);
            searcher.setSimilarity(sim);
            for (int pass = 0; pass < warmup; pass++) // untimed
                for (String qid : qids)
                    searcher.search(query(analyzer, texts.get(qid)), depth);
            double[] ms = new double[qids.size()];
            for (int i = 0; i < qids.size(); i++) {
                String qid = qids.get(i);
                long s = System.nanoTime();
                TopDocs top = searcher.search(query(analyzer, texts.get(qid)), depth);
                String[] ids = new String[top.scoreDocs.length];
                for (int j = 0; j < ids.length; j++)
                    ids[j] = searcher.doc(top.scoreDocs[j].doc).get(ID);
                ms[i] = (System.nanoTime() - s) / 1e6;
                for (int j = 0; j < ids.length; j++) {
                    ScoreDoc sd = top.scoreDocs[j];
                    out.printf(Locale.ROOT, "%s Q0 %s %d %.6f lucene-bm25%n", qid, ids[j], j + 1, sd.score);
                }
            }
            Arrays.sort(ms);
            double sum = 0;
            for (double v : ms)
                sum += v;
            System.out.printf(Locale.ROOT, "lucene documents=%d index_s=%.1f queries=%d warmup_passes=%d%n", ndocs,
                              indexS, ms.length, warmup);
            System.out.printf(Locale.ROOT, "lucene latency_ms p50=%.2f p95=%.2f p99=%.2f mean=%.2f max=%.2f%n",
                              pct(ms, 0.50), pct(ms, 0.95), pct(ms, 0.99), ms.length > 0 ? sum / ms.length : 0,
                              ms.length > 0 ? ms[ms.length - 1] : 0);
        }
    }

    /* SHOULD clauses over the analyzed terms; a repeated term gets its count as boost (what
       BooleanQuery's rewrite does with duplicate clauses, and what Anserini builds). */
    private static Query query(Analyzer a, String text) throws IOException {
        LinkedHashMap<String, Integer> counts = new LinkedHashMap<>();
        try (TokenStream ts = a.tokenStream(FIELD, text)) {
            CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken())
                counts.merge(term.toString(), 1, Integer::sum);
            ts.end();
        }
        BooleanQuery.Builder b = new BooleanQuery.Builder();
        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            Query tq = new TermQuery(new Term(FIELD, e.getKey()));
            b.add(e.getValue() == 1 ? tq : new BoostQuery(tq, e.getValue()), BooleanClause.Occur.SHOULD);
        }
        return b.build();
    }

    /* Linear interpolation between closest ranks, as llmemory eval reports. */
    private static double pct(double[] sorted, double p) {
        if (sorted.length == 0)
            return 0;
        double pos = p * (sorted.length - 1);
        int lo = (int) pos;
        if (lo + 1 >= sorted.length)
            return sorted[sorted.length - 1];
        return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (pos - lo);
    }

    private static String str(Object v) {
        if (v == null)
            return "";
        if (v instanceof Double && ((Double) v) == Math.rint((Double) v))
            return Long.toString(((Double) v).longValue()); // numeric ids
        return v.toString();
    }

    /* Just enough JSON: objects, arrays, strings (all escapes), numbers, true/false/null. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(String line) {
            Json j = new Json(line);
            Object v = j.value();
            if (!(v instanceof Map))
                throw new IllegalArgumentException("not a JSON object: " + line.substring(0, Math.min(60, line.length())));
            return (Map<String, Object>) v;
        }

        private void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i)))
                i++;
        }

        private Object value() {
            ws();
            char c = s.charAt(i);
            switch (c) {
            case '{': {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                ws();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                for (;;) {
                    ws();
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            case '[': {
                List<Object> l = new ArrayList<>();
                i++;
                ws();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                for (;;) {
                    l.add(value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            case '"':
                return string();
            case 't':
                i += 4;
                return Boolean.TRUE;
            case 'f':
                i += 5;
                return Boolean.FALSE;
            case 'n':
                i += 4;
                return null;
            default: {
                int start = i;
                while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0)
                    i++;
                return Double.valueOf(s.substring(start, i));
            }
            }
        }

        private void expect(char c) {
            if (s.charAt(i) != c)
                throw new IllegalArgumentException("expected '" + c + "' at " + i);
            i++;
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            for (;;) {
                char c = s.charAt(i++);
                if (c == '"')
                    return b.toString();
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); // surrogates pair up in UTF-16
                    i += 4;
                    break;
                default: b.append(e); // " \ /
                }
            }
        }
    }
}
