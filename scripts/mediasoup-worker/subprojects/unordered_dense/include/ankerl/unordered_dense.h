// Stand-in for ankerl::unordered_dense (not packaged in Debian bookworm):
// map/set are std::unordered_map/set; hash<T> mixes integral/enum/pointer keys.
#ifndef MS_SHIM_ANKERL_UNORDERED_DENSE_H
#define MS_SHIM_ANKERL_UNORDERED_DENSE_H
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
namespace ankerl { namespace unordered_dense {
namespace detail {
inline uint64_t mix(uint64_t x) noexcept
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}
} // namespace detail
template<class T, class Enable = void>
struct hash
{
	using is_avalanching = void;
	uint64_t operator()(const T& v) const
	{
		if constexpr (std::is_integral_v<T> || std::is_enum_v<T>)
			return detail::mix(static_cast<uint64_t>(v));
		else if constexpr (std::is_pointer_v<T>)
			return detail::mix(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(v)));
		else
			return static_cast<uint64_t>(std::hash<T>{}(v));
	}
};
template<class Key, class T, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>,
         class Allocator = std::allocator<std::pair<const Key, T>>>
using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;
template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>,
         class Allocator = std::allocator<Key>>
using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
}} // namespace ankerl::unordered_dense
#endif
