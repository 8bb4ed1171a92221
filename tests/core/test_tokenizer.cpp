// core/tokenizer: CLIP BPE tokenizer against transformers' CLIPTokenizer (no-ftfy branch).
// Reference: fixtures/tokenizer/tokenizer_cases.json and reference/text_encoder.safetensors.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/tokenizer/clip_tokenizer.h"
#include "core/tokenizer/unicode_text.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using gligen::tokenizer::ClipTokenizer;
using gligen::tokenizer::Padding;

namespace {

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::vector<int64_t> to_ids(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

QString show(const std::vector<int64_t>& v) {
  QStringList parts;
  for (auto x : v) parts << QString::number(x);
  return parts.join(',');
}

// A 2-D I64 tensor of a safetensors file, as rows. This test links only gligen_tokenizer (no
// LibTorch I/O), so it reads the few integer references itself.
std::vector<std::vector<int64_t>> read_i64_rows(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  in.read(header.data(), std::streamsize(header_len));
  const auto entry = nlohmann::json::parse(header).at(name);
  if (entry.at("dtype") != "I64" || entry.at("shape").size() != 2) return {};
  const auto shape = entry.at("shape").get<std::vector<int64_t>>();
  const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
  std::vector<int64_t> data(size_t(shape[0] * shape[1]));
  if (offsets[1] - offsets[0] != data.size() * 8) return {};
  in.seekg(std::streamoff(8 + header_len + offsets[0]));
  in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size() * 8));
  std::vector<std::vector<int64_t>> rows;
  for (int64_t b = 0; b < shape[0]; ++b) rows.emplace_back(data.begin() + b * shape[1], data.begin() + (b + 1) * shape[1]);
  return rows;
}

void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
}

}  // namespace

class TestTokenizer : public QObject {
  Q_OBJECT

  std::unique_ptr<ClipTokenizer> tokenizer_;
  nlohmann::json cases_;

 private Q_SLOTS:
  void initTestCase() {
    const auto folder = gligen::test::fixture("tokenizer");
    GLIGEN_REQUIRE_FIXTURE(folder + "/vocab.json");
    GLIGEN_REQUIRE_FIXTURE(folder + "/tokenizer_cases.json");
    tokenizer_ = std::make_unique<ClipTokenizer>(folder);
    cases_ = load_json(folder + "/tokenizer_cases.json");
    QCOMPARE(cases_.size(), size_t(29));
  }

  void specialTokensFromConfig() {
    QCOMPARE(tokenizer_->vocab_size(), int64_t(49408));
    QCOMPARE(tokenizer_->bos_id(), int64_t(49406));
    QCOMPARE(tokenizer_->eos_id(), int64_t(49407));
    QCOMPARE(tokenizer_->pad_id(), int64_t(49407));
    QCOMPARE(tokenizer_->unk_id(), int64_t(49407));
    QCOMPARE(tokenizer_->model_max_length(), int64_t(77));
    QCOMPARE(tokenizer_->id_to_token(49406), std::string("<|startoftext|>"));
    QCOMPARE(tokenizer_->token_to_id("no-such-token</w>"), int64_t(49407));
  }

  void referenceCases_data() {
    QTest::addColumn<int>("index");
    for (size_t i = 0; i < cases_.size(); ++i) {
      const auto text = QString::fromStdString(cases_[i]["text"].get<std::string>()).simplified().left(40);
      QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(i).arg(text))) << int(i);
    }
  }

  // input_ids and attention_mask exactly as CLIPTokenizer(text, padding="max_length",
  // max_length=77, truncation=True); tokens = the unpadded ids as token strings.
  void referenceCases() {
    QFETCH(int, index);
    const auto& c = cases_[size_t(index)];
    const std::string text = c["text"].get<std::string>();
    const auto batch = tokenizer_->tokenize({text}, Padding::MaxLength, 77, true);
    QCOMPARE(batch.batch_size(), int64_t(1));
    QCOMPARE(batch.length(), int64_t(77));
    const auto expected_ids = to_ids(c["input_ids"]);
    QVERIFY2(batch.input_ids[0] == expected_ids,
             qPrintable(QStringLiteral("got %1\nwant %2").arg(show(batch.input_ids[0]), show(expected_ids))));
    QVERIFY(batch.attention_mask[0] == to_ids(c["attention_mask"]));

    std::vector<std::string> got_tokens;
    for (size_t i = 0; i < batch.input_ids[0].size(); ++i) {
      if (batch.attention_mask[0][i]) got_tokens.push_back(tokenizer_->id_to_token(batch.input_ids[0][i]));
    }
    QVERIFY(got_tokens == c["tokens"].get<std::vector<std::string>>());

    // encode() is the same, unpadded; short texts are not truncated so match in full.
    const auto unpadded = tokenizer_->encode(text);
    if (unpadded.size() <= 77) {
      QVERIFY(unpadded == std::vector<int64_t>(expected_ids.begin(), expected_ids.begin() + unpadded.size()));
      QCOMPARE(int64_t(unpadded.size()), int64_t(got_tokens.size()));
    }
  }

  void truncationKeepsEosLast() {
    std::string long_text;
    for (int i = 0; i < 100; ++i) long_text += "cat ";
    const auto full = tokenizer_->encode(long_text);
    QCOMPARE(full.size(), size_t(102));
    const auto batch = tokenizer_->tokenize({long_text}, Padding::MaxLength, 77, true);
    QCOMPARE(batch.input_ids[0].size(), size_t(77));
    QCOMPARE(batch.input_ids[0].front(), int64_t(49406));
    QCOMPARE(batch.input_ids[0].back(), int64_t(49407));
    QCOMPARE(batch.input_ids[0][75], full[75]);
    // Without truncation, Longest keeps everything; MaxLength cannot be rectangular and refuses.
    QCOMPARE(tokenizer_->tokenize({long_text, "a"}, Padding::Longest, 77, false).length(), int64_t(102));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, tokenizer_->tokenize({long_text}, Padding::MaxLength, 77, false));
  }

  // The pipeline's phrase encoding: tokenizer(phrases, padding=True) -> pad to the longest.
  void phrasesPadToLongest() {
    const auto ref_path = gligen::test::fixture("reference/text_encoder.safetensors");
    const auto index_path = gligen::test::fixture("reference/index.json");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    GLIGEN_REQUIRE_FIXTURE(index_path);
    const auto phrases = load_json(index_path)["settings"]["prompts"]["phrases"].get<std::vector<std::string>>();
    const auto batch = tokenizer_->tokenize(phrases, Padding::Longest);
    QCOMPARE(batch.batch_size(), int64_t(4));
    QCOMPARE(batch.length(), int64_t(6));
    QVERIFY(batch.input_ids == read_i64_rows(ref_path, "phrases_input_ids"));
    QVERIFY(batch.attention_mask == read_i64_rows(ref_path, "phrases_attention_mask"));
    const auto flat = batch.flat_input_ids();
    QCOMPARE(flat.size(), size_t(24));
    QCOMPARE(flat[6], batch.input_ids[1][0]);
  }

  void referenceInputIdsTensorMatchesCases() {
    const auto ref_path = gligen::test::fixture("reference/text_encoder.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    const auto rows = read_i64_rows(ref_path, "input_ids");
    QCOMPARE(rows.size(), size_t(29));
    std::vector<std::string> texts;
    for (const auto& c : cases_) texts.push_back(c["text"].get<std::string>());
    QVERIFY(tokenizer_->tokenize(texts, Padding::MaxLength).input_ids == rows);
  }

  void pythonLowerRules() {
    using namespace gligen::tokenizer;
    // U+0130 lower-cases to two characters; a final capital sigma becomes U+03C2.
    QVERIFY(python_lower(U"\u0130") == std::u32string(U"i\u0307"));
    QVERIFY(python_lower(U"\u039F\u0394\u03A5\u03A3\u03A3\u0395\u03A5\u03A3") ==
            std::u32string(U"\u03BF\u03B4\u03C5\u03C3\u03C3\u03B5\u03C5\u03C2"));
    QVERIFY(python_lower(U"\u03A3") == std::u32string(U"\u03C3"));
    QVERIFY(python_lower(U"\u03A3A") == std::u32string(U"\u03C3a"));
    QVERIFY(python_lower(U"A\u03A3'") == std::u32string(U"a\u03C2'"));
  }

  // Unicode corners of the no-ftfy branch. Expected ids come from transformers' algorithm run in
  // Python 3.11 with the `regex` module: Python's final-sigma and U+0130 lower-casing, U+0345
  // (which no alternative of the IGNORECASE pattern matches, so findall drops it), the long s
  // folding to 's in the contraction, Zl/NBSP as separators, NUL and Cf characters removed, and
  // NFC composing a decomposed accent.
  void unicodeCorners_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("ids");
    QTest::newRow("final sigma") << QStringLiteral("\u039F\u0394\u03A5\u03A3\u03A3\u0395\u03A5\u03A3 \u03A3\u0391")
                                 << "49406,138,123,138,112,139,227,139,225,139,225,138,113,139,227,139,480,139,225,138,365,49407";
    QTest::newRow("dotted capital I") << QStringLiteral("\u0130stanbul") << "49406,328,16384,11231,49407";
    QTest::newRow("ypogegrammeni dropped") << QStringLiteral("x\u0345y!\u0345?") << "49406,343,344,256,286,49407";
    QTest::newRow("long s contraction") << QStringLiteral("it'\u017F") << "49406,585,6,129,379,49407";
    QTest::newRow("line separator and nbsp") << QStringLiteral("a\u2028b\u00A0c") << "49406,320,321,322,49407";
    QTest::newRow("nul and zero width space") << QStringLiteral("tab%1nul\u200Bzw").arg(QChar(0)) << "49406,2648,29358,42188,49407";
    QTest::newRow("decomposed accent") << QStringLiteral("cafe\u0301") << "49406,15304,49407";
  }

  void unicodeCorners() {
    QFETCH(QString, text);
    QFETCH(QString, ids);
    const QByteArray utf8 = text.toUtf8();
    const auto got = tokenizer_->encode(std::string(utf8.constData(), size_t(utf8.size())));
    QCOMPARE(show(got), ids);
  }

  void specialTokensInTextStaySplit() {
    // The added-token split happens before the pattern: "!" is its own pre-token here, where the
    // pattern alone would have made "!<|" one token.
    const auto ids = tokenizer_->encode("hi!<|endoftext|>");
    QCOMPARE(ids.size(), size_t(5));
    QCOMPARE(ids[3], int64_t(49407));
    QCOMPARE(tokenizer_->id_to_token(ids[2]), std::string("!</w>"));
  }

  void missingFilesNameFolderAndFile() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string folder = dir.path().toStdString();
    try {
      ClipTokenizer t(folder);
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find(folder) != std::string::npos && what.find("vocab.json") != std::string::npos, e.what());
    }
    copy_file(gligen::test::fixture("tokenizer/vocab.json"), folder + "/vocab.json");
    try {
      ClipTokenizer t(folder);
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find(folder) != std::string::npos && what.find("merges.txt") != std::string::npos, e.what());
    }
    // Without the config files the CLIP defaults apply.
    copy_file(gligen::test::fixture("tokenizer/merges.txt"), folder + "/merges.txt");
    ClipTokenizer plain(folder);
    QCOMPARE(plain.pad_id(), int64_t(49407));
    QVERIFY(plain.encode("a cat") == tokenizer_->encode("a cat"));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, (void)ClipTokenizer(folder + "/does-not-exist"));
  }

  void malformedVocabIsAnError() {
    QTemporaryDir dir;
    const std::string folder = dir.path().toStdString();
    { std::ofstream(folder + "/vocab.json") << "{not json"; }
    copy_file(gligen::test::fixture("tokenizer/merges.txt"), folder + "/merges.txt");
    QVERIFY_THROWS_EXCEPTION(gligen::Error, (void)ClipTokenizer(folder));
  }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
