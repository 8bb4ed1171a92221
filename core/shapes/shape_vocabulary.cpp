#include "core/shapes/shape_vocabulary.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "core/util/error.h"

namespace gligen::shapes {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::string item;
  std::istringstream in(list);
  while (std::getline(in, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    items.push_back(first == std::string::npos ? std::string() : lower(item.substr(first, last - first + 1)));
  }
  return items;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? sep : "") + items[i];
  return s;
}

std::string colour_names() {
  std::vector<std::string> names;
  for (const auto& c : all_shape_colours()) names.push_back(c.name);
  return join(names, ", ");
}

std::string shape_names() {
  std::vector<std::string> names;
  for (const auto k : all_shape_kinds()) names.push_back(shape_kind_name(k));
  return join(names, ", ");
}

ShapeColour make_colour(const char* name, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  return {name, {r, g, b}, rgb_hue(r, g, b)};
}

}  // namespace

const std::vector<ShapeKind>& all_shape_kinds() {
  static const std::vector<ShapeKind> kinds = {ShapeKind::Circle, ShapeKind::Square, ShapeKind::Triangle,
                                               ShapeKind::Star};
  return kinds;
}

const char* shape_kind_name(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::Circle: return "circle";
    case ShapeKind::Square: return "square";
    case ShapeKind::Triangle: return "triangle";
    case ShapeKind::Star: return "star";
  }
  return "?";
}

std::optional<ShapeKind> parse_shape_kind(const std::string& name) {
  const std::string n = lower(name);
  for (const auto k : all_shape_kinds())
    if (n == shape_kind_name(k)) return k;
  return std::nullopt;
}

const std::vector<ShapeColour>& all_shape_colours() {
  // Hues: red 0, orange ~29, yellow ~56, green ~130, blue ~227, purple 280.
  static const std::vector<ShapeColour> colours = {
      make_colour("red", 215, 35, 35),     make_colour("green", 40, 165, 60),   make_colour("blue", 35, 75, 215),
      make_colour("yellow", 235, 220, 25), make_colour("orange", 240, 125, 20), make_colour("purple", 150, 50, 200)};
  return colours;
}

std::optional<ShapeColour> find_shape_colour(const std::string& name) {
  const std::string n = lower(name);
  for (const auto& c : all_shape_colours())
    if (c.name == n) return c;
  return std::nullopt;
}

double rgb_hue(double r, double g, double b) {
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), c = mx - mn;
  if (c <= 0) return 0;
  double h;
  if (mx == r) {
    h = 60.0 * (g - b) / c;
  } else if (mx == g) {
    h = 60.0 * (b - r) / c + 120.0;
  } else {
    h = 60.0 * (r - g) / c + 240.0;
  }
  return h < 0 ? h + 360.0 : h;
}

double rgb_chroma(double r, double g, double b) { return std::max({r, g, b}) - std::min({r, g, b}); }

double hue_distance(double a, double b) {
  const double d = std::fmod(std::abs(a - b), 360.0);
  return d > 180.0 ? 360.0 - d : d;
}

ShapePhrase parse_shape_phrase(const std::string& phrase) {
  std::vector<std::string> words = words_of(lower(phrase));
  if (!words.empty() && (words[0] == "a" || words[0] == "an")) words.erase(words.begin());
  const auto fail = [&](const std::string& why) -> ShapePhrase {
    throw Error("the phrase \"" + phrase + "\" is not in the shapes vocabulary (" + why +
                "): write \"a <colour> <shape>\" with a colour among " + colour_names() + " and a shape among " +
                shape_names() + ", e.g. \"a red circle\"");
  };
  if (words.size() != 2) return fail("it should be two words after the article");
  const auto colour = find_shape_colour(words[0]);
  if (!colour) return fail("unknown colour '" + words[0] + "'");
  const auto kind = parse_shape_kind(words[1]);
  if (!kind) return fail("unknown shape '" + words[1] + "'");
  return {colour->name, *kind};
}

std::string shape_label(const ShapePhrase& p) { return p.colour + " " + shape_kind_name(p.shape); }

std::string shape_phrase(const ShapePhrase& p) { return "a " + shape_label(p); }

std::string shapes_caption(const std::vector<std::string>& phrases) {
  if (phrases.empty()) return "";
  if (phrases.size() == 1) return phrases[0];
  std::vector<std::string> head(phrases.begin(), phrases.end() - 1);
  return join(head, ", ") + " and " + phrases.back();
}

std::vector<ShapeColour> parse_colour_list(const std::string& list, const std::string& what) {
  std::vector<ShapeColour> out;
  for (const auto& name : split_list(list)) {
    const auto c = find_shape_colour(name);
    if (!c) throw Error(what + ": unknown colour '" + name + "' (the vocabulary has " + colour_names() + ")");
    for (const auto& seen : out)
      if (seen.name == c->name) throw Error(what + ": the colour '" + name + "' is given twice");
    out.push_back(*c);
  }
  if (out.empty()) throw Error(what + ": give at least one colour (among " + colour_names() + ")");
  return out;
}

std::vector<ShapeKind> parse_shape_list(const std::string& list, const std::string& what) {
  std::vector<ShapeKind> out;
  for (const auto& name : split_list(list)) {
    const auto k = parse_shape_kind(name);
    if (!k) throw Error(what + ": unknown shape '" + name + "' (the vocabulary has " + shape_names() + ")");
    if (std::find(out.begin(), out.end(), *k) != out.end())
      throw Error(what + ": the shape '" + name + "' is given twice");
    out.push_back(*k);
  }
  if (out.empty()) throw Error(what + ": give at least one shape (among " + shape_names() + ")");
  return out;
}

std::vector<std::string> shapes_tokenizer_words() {
  std::vector<std::string> words = {"a", "an", "and"};
  for (const auto& c : all_shape_colours()) words.push_back(c.name);
  for (ShapeKind k : all_shape_kinds()) words.push_back(shape_kind_name(k));
  return words;
}

}  // namespace gligen::shapes
