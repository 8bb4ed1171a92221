// Precompiled header of the studio library: Qt Widgets only. LibTorch stays out of it: only
// generation_job.cpp includes torch, so the other UI files compile in seconds.
#pragma once
#include <QtWidgets>
