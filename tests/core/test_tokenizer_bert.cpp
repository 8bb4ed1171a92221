// core/tokenizer: BertTokenizer (the Grounding DINO text tokenizer) against transformers'
// BertTokenizer on the grounding-dino fixtures: every case text and every tokenizer probe
// (upper case, accents, CJK, punctuation, whitespace, a word over 100 characters) must give the
// reference tokens, ids and decode() string. Everything is read from cases.json, so another
// fixture set (other vocabulary) runs unchanged.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/tokenizer/bert_tokenizer.h"
#include "core/util/error.h"
#include "support/fixtures.h"

namespace {

const std::string kRoot = "datagen/grounding-dino";

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& t : v) s += (s.empty() ? "" : " | ") + t;
  return s;
}

}  // namespace

class TestTokenizerBert : public QObject {
  Q_OBJECT

  nlohmann::json cases_;
  std::unique_ptr<gligen::tokenizer::BertTokenizer> tok_;

 private Q_SLOTS:
  void initTestCase() {
    const auto dir = gligen::test::fixture(kRoot + "/model");
    GLIGEN_REQUIRE_FIXTURE(dir + "/vocab.txt");
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture(kRoot + "/cases.json"));
    cases_ = load_json(gligen::test::fixture(kRoot + "/cases.json"));
    tok_ = std::make_unique<gligen::tokenizer::BertTokenizer>(gligen::tokenizer::BertTokenizer::from_folder(dir));
  }

  void folderOptionsAndSpecialIds() {
    const auto& o = tok_->options();
    QVERIFY(o.do_lower_case);
    QVERIFY(!o.strip_accents.has_value());  // null in tokenizer_config.json
    QVERIFY(o.tokenize_chinese_chars);
    // The ids Grounding DINO hard-codes belong to these tokens in the fixture vocabularies.
    QCOMPARE(tok_->token_to_id("[CLS]"), tok_->cls_id());
    QCOMPARE(tok_->id_to_token(tok_->sep_id()), std::string("[SEP]"));
    QCOMPARE(tok_->cls_id(), int64_t(101));
    QCOMPARE(tok_->sep_id(), int64_t(102));
    QCOMPARE(tok_->token_to_id("."), int64_t(1012));
    QCOMPARE(tok_->token_to_id("?"), int64_t(1029));
    QCOMPARE(tok_->token_to_id("no-such-token"), tok_->unk_id());
    QCOMPARE(tok_->id_to_token(-1), std::string("[UNK]"));
    QCOMPARE(tok_->id_to_token(1000000), std::string("[UNK]"));
  }

  void caseTexts() {
    for (const auto& c : cases_["cases"]) {
      const std::string text = c["text"];
      const auto ids = tok_->encode(text);
      QCOMPARE(ids, c["input_ids"].get<std::vector<int64_t>>());
      std::vector<std::string> tokens{"[CLS]"};
      for (const auto& t : tok_->tokenize(text)) tokens.push_back(t);
      tokens.push_back("[SEP]");
      QVERIFY2(tokens == c["tokens"].get<std::vector<std::string>>(), join(tokens).c_str());
      // Every detection label is tokenizer.decode of its label token ids.
      for (const auto& d : c["detections"]) {
        QCOMPARE(tok_->decode(d["label_token_ids"].get<std::vector<int64_t>>()), d["label"].get<std::string>());
      }
    }
  }

  void probes() {
    QVERIFY(!cases_["tokenizer_probes"].empty());
    for (const auto& p : cases_["tokenizer_probes"]) {
      const std::string text = p["text"];
      const auto ids = tok_->encode(text);
      QVERIFY2(ids == p["input_ids"].get<std::vector<int64_t>>(), text.c_str());
      std::vector<std::string> tokens{"[CLS]"};
      for (const auto& t : tok_->tokenize(text)) tokens.push_back(t);
      tokens.push_back("[SEP]");
      QVERIFY2(tokens == p["tokens"].get<std::vector<std::string>>(), (text + ": " + join(tokens)).c_str());
      QCOMPARE(tok_->decode(ids), p["decode"].get<std::string>());
    }
  }

  // Two whole-word tokens of the fixture's vocabulary (from the first case's text).
  std::pair<std::string, std::string> two_words() const {
    std::vector<std::string> words;
    for (const auto& t : cases_["cases"][0]["tokens"]) {
      const std::string s = t;
      if (s.size() > 1 && s.rfind("##", 0) != 0 && s.front() != '[') words.push_back(s);
    }
    if (words.size() < 2) return {"", ""};
    return {words[0], words[1]};
  }

  void decodeRules() {
    // tokenizer.decode: " ##" joins pieces, the clean-up glues punctuation, special tokens stay
    // unless skipped, empty input gives "".
    const auto [w1, w2] = two_words();
    QVERIFY(!w1.empty());
    const auto word = tok_->token_to_id(w1);
    const auto dot = tok_->token_to_id(".");
    QCOMPARE(tok_->decode({}), std::string());
    QCOMPARE(tok_->decode({tok_->cls_id(), word, dot, tok_->sep_id()}), "[CLS] " + w1 + ". [SEP]");
    QCOMPARE(tok_->decode({tok_->cls_id(), word, dot, tok_->sep_id()}, true), w1 + ".");
  }

  void specialTokensInTextStayWhole() {
    // PreTrainedTokenizer splits the text on its special tokens (case-sensitive) before anything else.
    const auto [w1, w2] = two_words();
    QVERIFY(!w2.empty());
    const auto ids = tok_->encode(w1 + " [SEP] " + w2);
    const auto a = tok_->token_to_id(w1), b = tok_->token_to_id(w2);
    QCOMPARE(ids, (std::vector<int64_t>{tok_->cls_id(), a, tok_->sep_id(), b, tok_->sep_id()}));
    const auto lower = tok_->tokenize("[sep]");  // not special: lower-case text, split on punctuation
    QCOMPARE(lower.front(), std::string("["));
  }

  void vocabularyFileRules() {
    QTemporaryDir dir;
    const std::string vocab = dir.path().toStdString() + "/vocab.txt";
    // CRLF lines (Python universal newlines), a repeated token keeps its last line.
    std::ofstream(vocab, std::ios::binary) << "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nab\r\n##c\r\nab";
    const auto t = gligen::tokenizer::BertTokenizer::from_folder(dir.path().toStdString());
    QCOMPARE(t.vocab_size(), int64_t(7));
    QCOMPARE(t.token_to_id("ab"), int64_t(7));
    QCOMPARE(t.id_to_token(5), std::string("[UNK]"));  // the earlier "ab" line has no token any more
    QCOMPARE(t.tokenize("ABC"), (std::vector<std::string>{"ab", "##c"}));
    QCOMPARE(t.tokenize("abd"), (std::vector<std::string>{"[UNK]"}));
  }

  void missingVocabularyIsAClearError() {
    QTemporaryDir dir;
    try {
      gligen::tokenizer::BertTokenizer::from_folder(dir.path().toStdString());
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      QVERIFY2(std::string(e.what()).find("vocab.txt") != std::string::npos, e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestTokenizerBert)
#include "test_tokenizer_bert.moc"
