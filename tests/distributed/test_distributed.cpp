// Distributed training on MPI: the collectives, and DistributedDataParallel against one process.
// These cases need a world of 2 and run under `mpirun -np 2` (CTest: ember_distributed_mpi);
// in a plain run of the binary they say "skipped" and pass nothing.
//
// The reference for DDP is computed in the same process: a second copy of the model trained
// without DDP on the whole global batch (both ranks' rows). Tolerance: a relative distance of
// 1e-6 between the two parameter vectors after 20 SGD-with-momentum steps (float32; the ranks'
// sum is ordered differently from one process's batch mean), and the two ranks' parameters
// bitwise equal (both add the same two numbers).
#ifdef EMBER_HAVE_MPI

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <ember/distributed/ddp.hpp>
#include <ember/distributed/mpi.hpp>
#include <ember/ember.hpp>

using namespace ember;
using namespace ember::distributed;

namespace dist_test {
bool launched() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) return true;
  MESSAGE("skipped: not started by mpirun (CTest ember_distributed_mpi runs these on 2 ranks)");
  return false;
}

// ‖a − b‖ / ‖b‖ over all parameters together (one vector). Per tensor would be ill-posed: the
// attention key biases' gradient is exactly zero in exact arithmetic (softmax ignores a shift),
// so those biases hold nothing but rounding noise of 1e-14 in any float run.
template <class T>
double relative_distance(nn::Module<T>& a, nn::Module<T>& b) {
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    auto x = pa[i].contiguous().to_vector(), y = pb[i].contiguous().to_vector();
    for (std::size_t k = 0; k < x.size(); ++k) {
      diff += (double(x[k]) - double(y[k])) * (double(x[k]) - double(y[k]));
      norm += double(y[k]) * double(y[k]);
    }
  }
  return std::sqrt(diff / norm);
}

void train_and_compare(const std::string& dir);

// A [rows, cols] tensor of integers in [lo, hi) from `gen`.
Tensor<int64_t> random_ints(int64_t lo, int64_t hi, const Shape& shape, Generator& gen) {
  Tensor<int64_t> t = Tensor<int64_t>::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = lo + int64_t(gen.randint(uint64_t(hi - lo)));
  return t;
}

// Rows {r, r + n, r + 2n, …} of a [batch, …] tensor: rank r's share of a global batch.
Tensor<int64_t> rows_of(const Tensor<int64_t>& t, int rank, int n) {
  const int64_t cols = t.numel() / t.size(0);
  std::vector<int64_t> all = t.contiguous().to_vector(), mine;
  for (int64_t i = rank; i < t.size(0); i += n)
    mine.insert(mine.end(), all.begin() + i * cols, all.begin() + (i + 1) * cols);
  Shape shape = t.shape();
  shape[0] = int64_t(mine.size()) / cols;
  return from_vector(mine, shape);
}
}  // namespace dist_test

TEST_CASE("distributed: MPI collectives on 2 ranks") {
  if (!dist_test::launched()) return;
  auto group = ProcessGroupMPI::world();
  REQUIRE(group->size() == 2);
  const int r = group->rank();
  CHECK(std::string(group->backend()) == "mpi");

  auto t = from_vector<float>({float(r + 1), float(10 * (r + 1))});
  group->all_reduce(t)->wait();
  CHECK(t.to_vector() == std::vector<float>{3, 30});
  t = from_vector<float>({float(r + 1), float(10 * (r + 1))});
  group->all_reduce(t, ReduceOp::Average)->wait();
  CHECK(t.to_vector() == std::vector<float>{1.5f, 15});
  auto m = from_vector<int64_t>({int64_t(r), int64_t(5 - r)});
  group->all_reduce(m, ReduceOp::Max)->wait();
  CHECK(m.to_vector() == std::vector<int64_t>{1, 5});

  auto b = from_vector<double>({double(r), double(r)});
  group->broadcast(b, 1)->wait();
  CHECK(b.to_vector() == std::vector<double>{1, 1});

  auto in = from_vector<float>({float(r), float(r) + 0.5f});
  auto out = zeros<float>({4});
  group->all_gather(out, in)->wait();
  CHECK(out.to_vector() == std::vector<float>{0, 0.5f, 1, 1.5f});

  auto whole = from_vector<float>({1, 2, 3, 4});  // on both ranks
  auto part = zeros<float>({2});
  group->reduce_scatter(part, whole)->wait();
  CHECK(part.to_vector() == (r == 0 ? std::vector<float>{2, 4} : std::vector<float>{6, 8}));

  // Several in flight at once complete in order; a barrier after them.
  std::vector<Tensor<float>> many;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 5; ++i) many.push_back(full<float>({3}, float(i + r)));
  for (auto& x : many) works.push_back(group->all_reduce(x));
  group->barrier()->wait();
  for (int i = 0; i < 5; ++i) {
    CHECK(works[std::size_t(i)]->is_completed());
    CHECK(many[std::size_t(i)].to_vector() == std::vector<float>(3, float(2 * i + 1)));
  }

  // Refusals happen on the caller's thread, before anything is sent.
  auto strided = zeros<float>({4, 2}).transpose(0, 1);
  CHECK_THROWS_WITH_AS(group->all_reduce(strided), doctest::Contains("contiguous"), Error);
  CHECK_THROWS_WITH_AS(group->all_gather(part, whole), doctest::Contains("size() x input"), Error);
  CHECK_THROWS_WITH_AS(group->all_reduce(m, ReduceOp::Average), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(group->broadcast(b, 2), doctest::Contains("not a rank"), Error);
}

TEST_CASE("distributed: DDP on 2 ranks trains BERT as one process with the global batch") {
  if (!dist_test::launched()) return;
  std::vector<std::string> dirs = {std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny"};
  if (const char* minilm = std::getenv("EMBER_MINILM_DIR"))  // all-MiniLM-L6-v2 (CI sets it)
    dirs.push_back(minilm);
  else
    MESSAGE("EMBER_MINILM_DIR not set: the tiny BERT only (scripts/fetch_model.sh)");
  for (const std::string& dir : dirs) {
    CAPTURE(dir);
    dist_test::train_and_compare(dir);
  }
}

namespace dist_test {
void train_and_compare(const std::string& dir) {
  using models::bert::bert_classifier_from_pretrained;
  auto group = ProcessGroupMPI::world();
  const int r = group->rank(), n = group->size();
  auto model = bert_classifier_from_pretrained<float>(dir);
  auto reference = bert_classifier_from_pretrained<float>(dir);
  // Dropout off (eval mode): both runs then compute the same function.
  model->eval();
  reference->eval();
  {
    NoGradGuard no_grad;
    // The same start (a checkpoint without a classifier gets a fresh head, drawn twice here).
    auto mine = model->parameters(), ref = reference->parameters();
    for (std::size_t i = 0; i < mine.size(); ++i) ref[i].copy_(mine[i]);
    // Rank 1 perturbs its copy: DDP's broadcast must undo that.
    if (r == 1)
      model->classifier->weight.copy_(full<float>(model->classifier->weight.shape(), 0.5f));
  }
  DistributedDataParallel<float> ddp(*model, group,
                                     DistributedDataParallelOptions().bucket_cap_mb(0.02));
  CHECK(ddp.buckets().size() > 2);
  CHECK(ddp.buckets()[0].front().rfind("classifier.", 0) == 0);  // last registered first
  CHECK(dist_test::relative_distance(*model, *reference) == 0);

  // SGD with momentum: linear in the gradient, so rounding differences stay rounding-sized.
  // (Adam divides by sqrt(v): the attention key biases, whose gradient is exactly zero in exact
  // arithmetic — softmax ignores a shift — get rounding noise of 1e-14 that Adam turns into
  // full-size, sign-random steps in both runs alike, so no two float runs agree on them.)
  optim::SGD<float> opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD<float> ref_opt(reference->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  Generator gen(123);  // the same data on both ranks; each takes its rows
  const int64_t vocab = model->config().vocab_size;
  for (int step = 0; step < 20; ++step) {
    Tensor<int64_t> ids = dist_test::random_ints(1, vocab, {8, 9}, gen);
    Tensor<int64_t> mask = ones<int64_t>({8, 9});
    Tensor<int64_t> labels = dist_test::random_ints(0, model->num_labels(), {8}, gen);
    opt.zero_grad();
    model->forward(dist_test::rows_of(ids, r, n), dist_test::rows_of(mask, r, n), {},
                   dist_test::rows_of(labels, r, n)).loss.backward();
    opt.step();
    ref_opt.zero_grad();
    reference->forward(ids, mask, {}, labels).loss.backward();
    ref_opt.step();
  }
  const double diff = dist_test::relative_distance(*model, *reference);
  MESSAGE("rank ", r, ": relative distance to one process after 20 steps: ", diff);
  CHECK(diff <= 1e-6);
  CHECK(diff > 0);  // two different float sums: equal bits would mean DDP did nothing
  // The ranks agree bit for bit.
  for (auto& p : model->parameters()) {
    Tensor<float> mine = p.contiguous().clone(), theirs = p.contiguous().clone();
    group->broadcast(theirs, 0)->wait();
    CHECK(mine.to_vector() == theirs.to_vector());
  }
  // Overlap: the first bucket (classifier, pooler, last layer) started before backward reached
  // the embeddings.
  REQUIRE(ddp.timeline().size() == ddp.buckets().size());
  CHECK(ddp.timeline().front().started < ddp.backward_compute_seconds());
  for (const auto& b : ddp.timeline()) CHECK(b.started <= b.finished);
}
}  // namespace dist_test

TEST_CASE("distributed: DDP with dropout on: a rerun gives the same parameters, bit for bit") {
  if (!dist_test::launched()) return;
  using models::bert::bert_classifier_from_pretrained;
  auto group = ProcessGroupMPI::world();
  const int r = group->rank(), n = group->size();
  auto run = [&] {
    Generator gen(uint64_t(7 + r));  // each rank its own dropout stream, the same every run
    auto model = bert_classifier_from_pretrained<float>(
        std::string(EMBER_TEST_DATA_DIR) + "/bert_tiny",
        models::bert::FromPretrainedOptions().generator(&gen));
    model->train();  // dropout 0.1
    DistributedDataParallel<float> ddp(*model, group,
                                       DistributedDataParallelOptions().bucket_cap_mb(0.02));
    optim::AdamW<float> opt(model->parameters(), optim::AdamWOptions(1e-3));
    Generator data(11);
    for (int step = 0; step < 5; ++step) {
      Tensor<int64_t> ids = dist_test::random_ints(1, model->config().vocab_size, {8, 9}, data);
      Tensor<int64_t> labels = dist_test::random_ints(0, model->num_labels(), {8}, data);
      opt.zero_grad();
      model->forward(dist_test::rows_of(ids, r, n), {}, {}, dist_test::rows_of(labels, r, n))
          .loss.backward();
      opt.step();
    }
    std::vector<float> all;
    for (auto& p : model->parameters()) {
      auto v = p.contiguous().to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  CHECK(run() == run());
}

TEST_CASE("distributed: DDP no_sync accumulates; an unused parameter is an error unless allowed") {
  if (!dist_test::launched()) return;
  auto group = ProcessGroupMPI::world();
  const double r = group->rank();
  Generator gen(5);
  nn::Module<double> net("Net");
  auto a = net.register_module(
      "a", std::make_shared<nn::Linear<double>>(nn::LinearOptions(3, 2).generator(&gen)));
  auto spare = net.register_module(
      "spare", std::make_shared<nn::Linear<double>>(nn::LinearOptions(3, 2).generator(&gen)));
  // Rank r's two micro-batches; loss = sum(a(x)), so d loss / d a.weight = x in each row.
  auto x1 = from_vector<double>({1 + r, 2 + 2 * r, 3 + 3 * r}, {1, 3});
  auto x2 = from_vector<double>({0, 1 + r, 0}, {1, 3});
  {
    DistributedDataParallel<double> ddp(net, group);
    {
      auto guard = ddp.no_sync();
      sum(a->forward(x1)).backward();  // local only: `spare` unused is fine here
    }
    CHECK(a->weight.grad().to_vector() ==
          std::vector<double>{1 + r, 2 + 2 * r, 3 + 3 * r, 1 + r, 2 + 2 * r, 3 + 3 * r});
    CHECK_THROWS_WITH_AS(sum(a->forward(x2)).backward(), doctest::Contains("spare.weight"),
                         Error);
  }
  for (auto& p : net.parameters()) p.zero_grad();
  DistributedDataParallel<double> ddp(
      net, group, DistributedDataParallelOptions().find_unused_parameters(true));
  {
    auto guard = ddp.no_sync();
    sum(a->forward(x1)).backward();
  }
  sum(a->forward(x2)).backward();
  // Average over the ranks of x1 + x2: rank 0 [1, 3, 3], rank 1 [2, 6, 6].
  CHECK(a->weight.grad().to_vector() == std::vector<double>{1.5, 4.5, 4.5, 1.5, 4.5, 4.5});
  CHECK(a->bias.grad().to_vector() == std::vector<double>{2, 2});
  CHECK(spare->weight.grad().to_vector() == std::vector<double>(6, 0.0));
}

#endif  // EMBER_HAVE_MPI
