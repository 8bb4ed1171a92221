// The `train` command line the distributed, cluster, precision and GPU tests share: the tiny-gligen
// fixture and its dataset at 32x32, learning rate 1e-4, seed 5, phrases embedded with the model's
// own text encoder, one thread per process. Callers append what they test (--device, ...).
#pragma once
#include <QString>
#include <QStringList>

#include "support/fixtures.h"

namespace gligen::test {

inline QStringList tiny_train_flags(const QString& out, int batch, int steps) {
  const auto path = [](const char* name) { return QString::fromStdString(fixture(name)); };
  return {"train",
          "--pretrained-model",
          path("tiny-gligen"),
          "--data-path",
          path("dataset/train_data.json"),
          "--image-path",
          path("dataset"),
          "--output-dir",
          out,
          "--resolution",
          "32",
          "--train-batch-size",
          QString::number(batch),
          "--max-train-steps",
          QString::number(steps),
          "--learning-rate",
          "1e-4",
          "--seed",
          "5",
          "--embed-with-model",
          "--threads",
          "1",
          "--gradient-accumulation-steps",
          "1"};
}

}  // namespace gligen::test
