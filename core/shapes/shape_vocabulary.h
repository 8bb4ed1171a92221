// The vocabulary of the synthetic shapes world (make-shapes-dataset, the shapes checker): a few
// flat-coloured shapes named by phrases of the form "a <colour> <shape>" ("a red circle"), and the
// image caption that lists them ("a red circle and a blue square").
//
// Colours are far apart in hue (at least ~25 degrees) and strongly saturated, so that a pixel's
// colour can be told from its hue alone; backgrounds are kept nearly grey, far below the
// saturation of any shape colour.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen::shapes {

enum class ShapeKind { Circle, Square, Triangle, Star };

// All shape kinds, in vocabulary order.
const std::vector<ShapeKind>& all_shape_kinds();
const char* shape_kind_name(ShapeKind kind);  // "circle", ...
std::optional<ShapeKind> parse_shape_kind(const std::string& name);

struct ShapeColour {
  std::string name;                 // "red"
  std::array<std::uint8_t, 3> rgb;  // the nominal sRGB colour shapes are drawn with
  double hue = 0;                   // of `rgb`, degrees in [0, 360)
};

// All colours, in vocabulary order: red, green, blue, yellow, orange, purple.
const std::vector<ShapeColour>& all_shape_colours();
// The colour of that name; nullopt when it is not in the vocabulary.
std::optional<ShapeColour> find_shape_colour(const std::string& name);

// Hue in degrees [0, 360) and chroma (max - min channel, 0..255) of an sRGB colour.
double rgb_hue(double r, double g, double b);
double rgb_chroma(double r, double g, double b);
// Smallest angle between two hues, degrees in [0, 180].
double hue_distance(double a, double b);

struct ShapePhrase {
  std::string colour;  // a vocabulary colour name
  ShapeKind shape = ShapeKind::Circle;
};

// "a red circle" (also "an ...", no article, any case and spacing) -> {red, circle}. Throws
// gligen::Error naming the phrase and listing the vocabulary when it is not "[a] <colour> <shape>".
ShapePhrase parse_shape_phrase(const std::string& phrase);
// {red, circle} -> "a red circle".
std::string shape_phrase(const ShapePhrase& p);
// The box label of the annotation store: the phrase without its article ("red circle").
std::string shape_label(const ShapePhrase& p);
// The image caption: "a red circle", "a red circle and a blue square",
// "a red circle, a blue square and a green star".
std::string shapes_caption(const std::vector<std::string>& phrases);

// Every word of the phrases and captions ("a", "an", "and", the colours, the shapes): the words the
// shapes-tiny preset's tokenizer reads as single tokens.
std::vector<std::string> shapes_tokenizer_words();

// Parses a comma-separated list of colour names ("red,blue") or shape names ("circle,star") for
// flags; `what` names the flag in errors. Unknown names and repeats are gligen::Error.
std::vector<ShapeColour> parse_colour_list(const std::string& list, const std::string& what);
std::vector<ShapeKind> parse_shape_list(const std::string& list, const std::string& what);

}  // namespace gligen::shapes
