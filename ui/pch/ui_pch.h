// Precompiled header of the studio library: Qt Widgets and LibTorch.
#pragma once
#include <QtWidgets>
#include <torch/torch.h>
