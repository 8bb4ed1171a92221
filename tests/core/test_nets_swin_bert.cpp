// core/nets: the Swin and BERT blocks on their own (the Grounding DINO parity test covers their
// numbers end to end): Swin's window functions and relative position index as the released
// checkpoints store it, the shifted-window mask, and BERT's 2-D / 3-D attention masks.
#include <QtTest>
#include <cmath>

#include "core/io/safetensors.h"
#include "core/nets/bert.h"
#include "core/nets/dtype_limits.h"
#include "core/nets/module_tree.h"
#include "core/nets/swin.h"
#include "core/util/error.h"
#include "support/fixtures.h"

class TestNetsSwinBert : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // The index the grounding-dino fixture checkpoint stores for its window size.
  void relativePositionIndexEqualsCheckpoint() {
    const auto path = gligen::test::fixture("datagen/grounding-dino/model/model.safetensors");
    GLIGEN_REQUIRE_FIXTURE(path);
    const auto weights = gligen::io::read_safetensors(path).tensors;
    int checked = 0;
    for (const auto& [name, t] : weights) {
      if (name.size() < 23 || name.compare(name.size() - 23, 23, "relative_position_index") != 0) continue;
      const int64_t window = static_cast<int64_t>(std::lround(std::sqrt(double(t.size(0)))));
      QVERIFY(torch::equal(gligen::nets::swin_relative_position_index(window), t));
      ++checked;
    }
    QVERIFY(checked > 0);
  }

  void windowPartitionRoundTrip() {
    auto x = torch::randn({2, 24, 36, 5});
    auto w = gligen::nets::swin_window_partition(x, 12);
    QCOMPARE(w.sizes().vec(), (std::vector<int64_t>{2 * 2 * 3, 12, 12, 5}));
    QVERIFY(torch::equal(w[1], x[0].slice(0, 0, 12).slice(1, 12, 24)));  // row-major window order
    QVERIFY(torch::equal(gligen::nets::swin_window_reverse(w, 12, 24, 36), x));
  }

  void shiftMaskSeparatesRegions() {
    // One 12x12 window shifted by 6: four regions; tokens of different regions get -100.
    auto m = gligen::nets::swin_shift_attention_mask(12, 12, 12, 6, torch::kFloat);
    QCOMPARE(m.sizes().vec(), (std::vector<int64_t>{1, 144, 144}));
    QCOMPARE(m[0][0][5].item<float>(), 0.0f);          // (0,0) and (0,5): same region
    QCOMPARE(m[0][0][6].item<float>(), -100.0f);       // (0,6): other column region
    QCOMPARE(m[0][0][6 * 12].item<float>(), -100.0f);  // (6,0): other row region
    QCOMPARE(m[0][143][7 * 12 + 7].item<float>(), 0.0f);
    QCOMPARE(int((m == 0).sum().item<int64_t>()), 4 * 36 * 36);
  }

  void bertMasks() {
    gligen::nets::BertConfig c;
    c.vocab_size = 50;
    c.hidden_size = 16;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 32;
    c.max_position_embeddings = 16;
    torch::manual_seed(0);
    gligen::nets::BertModel bert(c);
    bert->eval();
    torch::NoGradGuard no_grad;
    auto ids = torch::tensor({{1, 5, 7, 9, 2}}, torch::kLong);
    auto pad = torch::tensor({{1, 1, 1, 0, 0}}, torch::kLong);
    // A 2-D padding mask equals the 3-D mask with that row for every query.
    auto a = bert->forward(ids, pad);
    auto b = bert->forward(ids, pad.unsqueeze(1).expand({1, 5, 5}).contiguous());
    QVERIFY(torch::allclose(a, b, 0, 0));
    // Masked keys do not change the unmasked tokens' outputs.
    auto ids2 = ids.clone();
    ids2[0][4] = 30;
    QVERIFY(torch::allclose(a.slice(1, 0, 3), bert->forward(ids2, pad).slice(1, 0, 3), 0, 1e-6));
    // Out-of-range ids and positions are clear errors.
    QVERIFY_THROWS_EXCEPTION(gligen::Error, bert->forward(torch::tensor({{1, 99}}, torch::kLong)));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, bert->forward(ids, {}, {}, torch::full({1, 5}, 16, torch::kLong)));
    QCOMPARE(gligen::nets::finfo_min(torch::kFloat16), -65504.0);
  }

  // module_to converts floating tensors and keeps integer buffers integer (Swin's index tables).
  void moduleToKeepsIndexBuffers() {
    gligen::nets::SwinConfig c;
    c.embed_dim = 8;
    c.depths = {2};
    c.num_heads = {1};
    c.window_size = 4;
    c.out_features = {"stage1"};
    c.out_indices = {1};
    gligen::nets::SwinBackbone swin(c);
    gligen::nets::module_to(*swin, torch::kCPU, torch::kFloat64);
    QCOMPARE(swin->embeddings->norm->weight.scalar_type(), torch::kFloat64);
    for (const auto& b : swin->named_buffers()) QCOMPARE(b.value().scalar_type(), torch::kLong);
    auto out = swin->forward(torch::randn({1, 3, 18, 22}, torch::kFloat64));
    QCOMPARE(out.size(), size_t(1));
    QCOMPARE(out[0].sizes().vec(), (std::vector<int64_t>{1, 8, 5, 6}));  // padded to whole patches
  }
};

QTEST_GUILESS_MAIN(TestNetsSwinBert)
#include "test_nets_swin_bert.moc"
