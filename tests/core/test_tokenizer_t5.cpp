// core/tokenizer: T5Tokenizer decoding against transformers' slow T5Tokenizer, from the BLIP-2
// fixtures (datagen/blip2): cases.json["tokenizer"] (sizes, sentinel ids, decode cases) and the
// generated ids and captions of every case, with and without skip_special_tokens.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/tokenizer/t5_tokenizer.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using namespace gligen;

namespace {

const std::string kRoot = "datagen/blip2";

nlohmann::json blip2_cases() {
  std::ifstream in(test::fixture(kRoot + "/cases.json"));
  return nlohmann::json::parse(in);
}

}  // namespace

class TestTokenizerT5 : public QObject {
  Q_OBJECT

  nlohmann::json cases_;
  std::string folder_;
  std::unique_ptr<tokenizer::T5Tokenizer> tok_;

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture(kRoot + "/cases.json"));
    cases_ = blip2_cases();
    folder_ = test::fixture(kRoot + "/" + cases_.at("model_dir").get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(folder_ + "/spiece.model");
    tok_ = std::make_unique<tokenizer::T5Tokenizer>(folder_);
  }

  void sizesAndSentinels() {
    const auto& t = cases_.at("tokenizer");
    QCOMPARE(tok_->piece_count(), t.at("sp_pieces").get<int64_t>());
    QCOMPARE(tok_->size(), t.at("len").get<int64_t>());
    QCOMPARE(tok_->id_to_token(t.at("extra_id_0").get<int64_t>()), std::string("<extra_id_0>"));
    QCOMPARE(tok_->id_to_token(t.at("extra_id_99").get<int64_t>()), std::string("<extra_id_99>"));
    // Every listed special token is special here too.
    for (const auto& s : t.at("all_special_tokens")) {
      const auto token = s.get<std::string>();
      if (token == "...") continue;  // the list is abbreviated in cases.json
      bool found = false;
      for (int64_t id : tok_->special_ids()) found = found || tok_->id_to_token(id) == token;
      QVERIFY2(found, token.c_str());
    }
  }

  void decodeCases_data() {
    QTest::addColumn<int>("index");
    const auto& list = cases_.at("tokenizer").at("decode_cases");
    QVERIFY(!list.empty());
    for (std::size_t i = 0; i < list.size(); ++i) QTest::newRow(("decode_case_" + std::to_string(i)).c_str()) << int(i);
  }

  void decodeCases() {
    QFETCH(int, index);
    const auto& c = cases_.at("tokenizer").at("decode_cases").at(index);
    const auto ids = c.at("ids").get<std::vector<int64_t>>();
    const auto tokens = c.at("tokens").get<std::vector<std::string>>();
    QCOMPARE(tokens.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) QCOMPARE(tok_->id_to_token(ids[i]), tokens[i]);
    QCOMPARE(tok_->decode(ids, true), c.at("skip_special_tokens_true").get<std::string>());
    QCOMPARE(tok_->decode(ids, false), c.at("skip_special_tokens_false").get<std::string>());
  }

  // The generated ids of every captioning case decode to the recorded captions.
  void generatedCaptions_data() {
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < cases_.at("cases").size(); ++i) {
      QTest::newRow(cases_["cases"][i].at("name").get<std::string>().c_str()) << int(i);
    }
  }

  void generatedCaptions() {
    QFETCH(int, index);
    const auto& c = cases_.at("cases").at(index);
    const auto ids = c.at("generated_ids").get<std::vector<int64_t>>();
    const auto tokens = c.at("tokens").get<std::vector<std::string>>();
    QCOMPARE(tokens.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) QCOMPARE(tok_->id_to_token(ids[i]), tokens[i]);
    QCOMPARE(tok_->decode(ids, true), c.at("caption").get<std::string>());
    QCOMPARE(tok_->decode(ids, false), c.at("caption_skip_special_false").get<std::string>());
  }

  // Ids in the model's padding rows (>= len(tokenizer)) have no text: transformers raises
  // IndexError, we raise gligen::Error.
  void idOutsideTokenizerIsAnError() {
    QVERIFY(!cases_.at("tokenizer").at("decode_of_id_in_padding_rows").get<std::string>().empty());
    QVERIFY_THROWS_EXCEPTION(Error, tok_->decode({tok_->size()}, true));
    QVERIFY_THROWS_EXCEPTION(Error, tok_->decode({-1}, true));
  }

  // Without tokenizer_config.json and the other JSON files the sentinels follow from the
  // default extra_ids (100), as for older repositories.
  void spieceModelAlone() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string d = dir.path().toStdString();
    std::filesystem::copy_file(folder_ + "/spiece.model", d + "/spiece.model");
    tokenizer::T5Tokenizer bare(d);
    QCOMPARE(bare.piece_count(), tok_->piece_count());
    QCOMPARE(bare.size(), tok_->piece_count() + 100);
    QCOMPARE(bare.id_to_token(bare.piece_count() + 99), std::string("<extra_id_0>"));
    if (tok_->size() - tok_->piece_count() != 100) return;  // the fixture's own extra_ids differ
    const auto& c = cases_.at("cases").at(0);
    QCOMPARE(bare.decode(c.at("generated_ids").get<std::vector<int64_t>>(), true), c.at("caption").get<std::string>());
  }

  void missingModelIsAClearError() {
    QTemporaryDir dir;
    try {
      tokenizer::T5Tokenizer t(dir.path().toStdString());
      QFAIL("expected an error");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("spiece.model") != std::string::npos, e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestTokenizerT5)
#include "test_tokenizer_t5.moc"
