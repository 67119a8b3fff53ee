// tests/cases/case_spec_test.cpp — validation messages, stable ids, layout and pair counts.
#include "cases/case_spec.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sinkbench {
namespace {

std::string validation_error(const CaseSpec& c) {
  try {
    validate(c, "here");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(CaseSpec, DefaultIsValid) {
  EXPECT_EQ(validation_error(CaseSpec{}), "");
}

TEST(CaseSpec, ValidationNamesTheField) {
  CaseSpec c;
  c.heads_q = 12;
  c.heads_kv = 8;
  EXPECT_NE(validation_error(c).find("field 'heads_kv'"), std::string::npos);
  c = {};
  c.head_dim = 100;
  EXPECT_NE(validation_error(c).find("field 'head_dim'"), std::string::npos);
  c = {};
  c.mask = {MaskKind::sliding_window, 0, 0};
  EXPECT_NE(validation_error(c).find("field 'window'"), std::string::npos);
  c = {};
  c.mask = {MaskKind::causal, 5, 0};
  EXPECT_NE(validation_error(c).find("field 'window'"), std::string::npos);
  c = {};
  c.mask = {MaskKind::sink_tokens, 16, 0};
  EXPECT_NE(validation_error(c).find("field 'sink_tokens'"), std::string::npos);
  c = {};
  c.seqlen_q = 0;
  EXPECT_NE(validation_error(c).find("field 'sq'"), std::string::npos);
  c = {};
  c.varlen_q = {3, 4};
  c.varlen_k = {5};
  EXPECT_NE(validation_error(c).find("field 'varlen'"), std::string::npos);
  EXPECT_NE(validation_error(c).find("here: "), std::string::npos);
}

TEST(CaseSpec, IdIsStableAndSensitiveToEveryField) {
  CaseSpec a;
  EXPECT_EQ(case_id(a), case_id(CaseSpec{}));
  EXPECT_EQ(case_id(a).size(), 16u);
  std::vector<CaseSpec> variants(8, a);
  variants[0].dtype = DType::f16;
  variants[1].seed = 2;
  variants[2].mask = {MaskKind::causal};
  variants[3].heads_kv = 1;
  variants[4].sink = {SinkKind::none};
  variants[5].seqlen_k = 129;
  variants[6].page_size = 16;
  variants[7].input = InputDist::outliers;
  for (const CaseSpec& v : variants)
    EXPECT_NE(case_id(v), case_id(a)) << canonical(v);
}

// Forward-only cases keep the ids they had before the grad/dlse axes existed (the canonical text
// of the default case is pinned here); setting either axis gives a new id.
TEST(CaseSpec, GradAxesLeaveForwardIdsAndChangeTheirOwn) {
  const CaseSpec a;
  EXPECT_EQ(canonical(a),
            "dtype=bf16;hq=8;hkv=8;d=64;mask=none;window=0;sink_tokens=0;batch=1;sq=128;sk=128;"
            "scale=0;sink=band:4:8;input=normal;seed=1;page_size=0;sample_rows=0;sample_heads=0");
  CaseSpec g = a;
  g.grad = GradKind::d_o;
  CaseSpec gl = g;
  gl.dlse = DlseKind::normal;
  EXPECT_NE(case_id(g), case_id(a));
  EXPECT_NE(case_id(gl), case_id(g));
  EXPECT_NE(case_label(gl).find("grad+dlse"), std::string::npos);
  GradKind gk{};
  DlseKind dk{};
  EXPECT_TRUE(parse_grad("do", &gk) && gk == GradKind::d_o);
  EXPECT_TRUE(parse_dlse("normal", &dk) && dk == DlseKind::normal);
  EXPECT_FALSE(parse_grad("dq", &gk));
  CaseSpec bad = a;
  bad.dlse = DlseKind::normal;  // dlse without grad
  EXPECT_NE(validation_error(bad).find("field 'dlse'"), std::string::npos);
}

TEST(CaseSpec, SinkNamesRoundTrip) {
  for (const char* s : {"none", "normal:6", "constant:-2.5", "extreme:30", "band:4:8"}) {
    SinkDist d;
    ASSERT_TRUE(parse_sink(s, &d)) << s;
    EXPECT_EQ(sink_name(d), s);
  }
  SinkDist d;
  EXPECT_TRUE(parse_sink("extreme", &d));
  EXPECT_EQ(d.a, 30);
  EXPECT_FALSE(parse_sink("band:4", &d));
  EXPECT_FALSE(parse_sink("gauss:1", &d));
}

TEST(CaseSpec, LayoutForFixedAndVarlen) {
  CaseSpec c;
  c.batch = 2;
  c.seqlen_q = 3;
  c.seqlen_k = 5;
  c.heads_q = 4;
  c.heads_kv = 2;
  c.head_dim = 8;
  Layout l = make_layout(c);
  EXPECT_EQ(l.total_q(), 6);
  EXPECT_EQ(l.total_k(), 10);
  EXPECT_EQ(l.q_offset(1, 2, 3), ((3 + 2) * 4 + 3) * 8);  // BSHD
  EXPECT_EQ(l.kv_offset(1, 4, 1), ((5 + 4) * 2 + 1) * 8);
  EXPECT_EQ(l.lse_offset(1, 2, 1), (1 * 4 + 2) * 3 + 1);  // [B, Hq, Sq]
  c.varlen_q = {2, 7};
  c.varlen_k = {4, 9};
  l = make_layout(c);
  EXPECT_EQ(l.total_q(), 9);
  EXPECT_EQ(l.sk(1), 9);
  EXPECT_EQ(l.lse_offset(1, 3, 5), 3 * 9 + 2 + 5);  // [Hq, total_q]
}

TEST(CaseSpec, VisiblePairsCountsCausalTriangle) {
  CaseSpec c;
  c.seqlen_q = c.seqlen_k = 100;
  c.heads_q = 4;
  c.heads_kv = 4;
  c.mask = {MaskKind::causal};
  EXPECT_EQ(visible_pairs(c), 4.0 * 100 * 101 / 2);
  c.mask = {MaskKind::none};
  EXPECT_EQ(visible_pairs(c), 4.0 * 100 * 100);
}

}  // namespace
}  // namespace sinkbench
