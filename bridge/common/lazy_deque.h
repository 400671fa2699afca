// A std::deque that allocates nothing until its first element. libstdc++'s deque allocates
// its map and a 512-byte block as soon as it is constructed; the queues of an idle session
// (frames held for a resume, outcomes kept for resends, the outlet's backlog) would pay that
// on every connection. Once allocated, the deque is kept until clear(), so a queue that
// empties and fills again does not allocate each time.
#ifndef BRIDGE_COMMON_LAZY_DEQUE_H_
#define BRIDGE_COMMON_LAZY_DEQUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace bridge {

template <typename T>
class LazyDeque {
 public:
  bool empty() const { return items_ == nullptr || items_->empty(); }
  size_t size() const { return items_ == nullptr ? 0 : items_->size(); }

  void push_back(T value) {
    if (items_ == nullptr) items_ = std::make_unique<std::deque<T>>();
    items_->push_back(std::move(value));
  }
  // The next four need an element (as std::deque's do).
  T& front() { return items_->front(); }
  const T& front() const { return items_->front(); }
  const T& back() const { return items_->back(); }
  void pop_front() { items_->pop_front(); }
  // Empties and frees.
  void clear() { items_.reset(); }

  // For iteration, oldest first. Value-initialized iterators compare equal, so an empty,
  // never-allocated queue iterates over nothing.
  using const_iterator = typename std::deque<T>::const_iterator;
  const_iterator begin() const { return items_ == nullptr ? const_iterator() : items_->cbegin(); }
  const_iterator end() const { return items_ == nullptr ? const_iterator() : items_->cend(); }

 private:
  std::unique_ptr<std::deque<T>> items_;
};

}  // namespace bridge

#endif  // BRIDGE_COMMON_LAZY_DEQUE_H_
