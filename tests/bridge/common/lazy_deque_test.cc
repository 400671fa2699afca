// LazyDeque: a queue that costs no heap until its first element, counted with this binary's
// own operator new.
#include "bridge/common/lazy_deque.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace bridge {
namespace {

TEST(LazyDequeTest, AnEmptyQueueAllocatesNothingWhileRead) {
  const size_t before = g_allocations.load();
  LazyDeque<std::string> queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.size(), 0u);
  for (const std::string& s : queue) ADD_FAILURE() << s;
  EXPECT_EQ(g_allocations.load() - before, 0u);
  // std::deque itself allocates when constructed: what LazyDeque is there to avoid.
  { std::deque<int> eager; }
  EXPECT_GT(g_allocations.load() - before, 0u);
}

TEST(LazyDequeTest, KeepsOrderAndFreesOnClear) {
  LazyDeque<int> queue;
  for (int i = 1; i <= 5; ++i) queue.push_back(i);
  EXPECT_EQ(queue.size(), 5u);
  EXPECT_EQ(queue.front(), 1);
  EXPECT_EQ(queue.back(), 5);
  queue.pop_front();
  EXPECT_EQ(queue.front(), 2);
  EXPECT_EQ(std::vector<int>(queue.begin(), queue.end()), (std::vector<int>{2, 3, 4, 5}));
  queue.clear();
  EXPECT_TRUE(queue.empty());
  const size_t before = g_allocations.load();
  EXPECT_EQ(std::vector<int>(queue.begin(), queue.end()).size(), 0u);
  EXPECT_EQ(g_allocations.load() - before, 0u);
}

TEST(LazyDequeTest, AQueueThatEmptiesKeepsItsStorage) {
  LazyDeque<int> queue;
  queue.push_back(1);
  queue.pop_front();
  const size_t before = g_allocations.load();
  queue.push_back(2);  // into the block already there
  queue.pop_front();
  EXPECT_EQ(g_allocations.load() - before, 0u);
}

}  // namespace
}  // namespace bridge
