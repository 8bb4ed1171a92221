// gligen::Layout travels in queued signals (generation results, "open as layout" from the review
// panel). Every header whose signals carry one includes this, so the metatype is declared before
// any moc output instantiates it, whatever order the moc files are compiled in.
#pragma once
#include <QMetaType>

#include "core/pipeline/layout.h"

Q_DECLARE_METATYPE(gligen::Layout)
