// Subset of the libsrtp 3.x API (versatica fork, used by mediasoup >= 3.16)
// implemented on top of Debian's libsrtp2 2.5 (C++ only).
#ifndef MS_SHIM_SRTP3_H
#define MS_SHIM_SRTP3_H
// libsrtp2's policy *struct* is called srtp_policy_t; libsrtp3 uses the name for an opaque pointer.
#define srtp_policy_t ms_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#define srtp_err_status_buffer_small (static_cast<srtp_err_status_t>(28))
#define srtp_err_status_cryptex_err (static_cast<srtp_err_status_t>(29))

struct ms_srtp3_policy
{
	ms_srtp2_policy_t p;
	unsigned char key[128];
};
typedef ms_srtp3_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	auto* pol = new (std::nothrow) ms_srtp3_policy();
	if (!pol)
		return srtp_err_status_alloc_fail;
	std::memset(pol, 0, sizeof(*pol));
	*policy = pol;
	return srtp_err_status_ok;
}
inline void srtp_policy_destroy(srtp_policy_t policy) { delete policy; }
inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	policy->p.ssrc = ssrc;
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	srtp_err_status_t err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->p.rtp, profile);
	if (err != srtp_err_status_ok)
		return err;
	return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->p.rtcp, profile);
}
inline srtp_err_status_t srtp_policy_add_key(srtp_policy_t policy, const uint8_t* key, size_t keyLen,
  const uint8_t* salt, size_t saltLen, const uint8_t* mki, size_t mkiLen)
{
	if ((mki != nullptr && mkiLen != 0) || keyLen + saltLen > sizeof(policy->key))
		return srtp_err_status_bad_param;
	std::memcpy(policy->key, key, keyLen);
	std::memcpy(policy->key + keyLen, salt, saltLen);
	policy->p.key = policy->key; // libsrtp2 wants key||salt
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	policy->p.allow_repeat_tx = allow ? 1 : 0;
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t windowSize)
{
	policy->p.window_size = static_cast<unsigned long>(windowSize);
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t policy)
{
	return srtp_create(session, static_cast<const ms_srtp2_policy_t*>(&policy->p));
}
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
		return srtp_err_status_bad_param;
	if (*srtpLen < rtpLen + SRTP_MAX_TRAILER_LEN)
		return srtp_err_status_buffer_small;
	if (srtp != rtp)
		std::memmove(srtp, rtp, rtpLen);
	int len = static_cast<int>(rtpLen);
	const srtp_err_status_t err = srtp_protect(ctx, static_cast<void*>(srtp), &len);
	if (err == srtp_err_status_ok)
		*srtpLen = static_cast<size_t>(len);
	return err;
}
inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	if (*rtpLen < srtpLen)
		return srtp_err_status_buffer_small;
	if (rtp != srtp)
		std::memmove(rtp, srtp, srtpLen);
	int len = static_cast<int>(srtpLen);
	const srtp_err_status_t err = srtp_unprotect(ctx, static_cast<void*>(rtp), &len);
	if (err == srtp_err_status_ok)
		*rtpLen = static_cast<size_t>(len);
	return err;
}
inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
		return srtp_err_status_bad_param;
	if (*srtcpLen < rtcpLen + SRTP_MAX_TRAILER_LEN + 4)
		return srtp_err_status_buffer_small;
	if (srtcp != rtcp)
		std::memmove(srtcp, rtcp, rtcpLen);
	int len = static_cast<int>(rtcpLen);
	const srtp_err_status_t err = srtp_protect_rtcp(ctx, static_cast<void*>(srtcp), &len);
	if (err == srtp_err_status_ok)
		*srtcpLen = static_cast<size_t>(len);
	return err;
}
inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	if (*rtcpLen < srtcpLen)
		return srtp_err_status_buffer_small;
	if (rtcp != srtcp)
		std::memmove(rtcp, srtcp, srtcpLen);
	int len = static_cast<int>(srtcpLen);
	const srtp_err_status_t err = srtp_unprotect_rtcp(ctx, static_cast<void*>(rtcp), &len);
	if (err == srtp_err_status_ok)
		*rtcpLen = static_cast<size_t>(len);
	return err;
}
#endif
