// SPDX-License-Identifier: MIT OR Apache-2.0
// A model proved as segments, verified on-chain: every segment's verifier must accept
// its proof and each segment's output hash (its last public instance) must equal the
// next segment's input hash (its first), which binds the proofs to one run.
pragma solidity 0.8.19;

contract ZkinferSegmentChain {
    /// The segments' verifier contracts, in order.
    address[] public verifiers;
    /// Public instances of each segment's proof (the verifier's calldata starts with them).
    uint256[] public instanceCounts;

    error SegmentCount(uint256 expected, uint256 got);
    error ShortCalldata(uint256 segment);
    error BrokenChain(uint256 segment);
    error SegmentRejected(uint256 segment);

    constructor(address[] memory verifiers_, uint256[] memory instanceCounts_) {
        require(verifiers_.length > 0 && verifiers_.length == instanceCounts_.length, "one instance count per verifier");
        for (uint256 i = 0; i < instanceCounts_.length; i++) {
            // Segments meet through hashes: every segment but the last has an output
            // hash, every one but the first an input hash.
            require(instanceCounts_[i] > 0, "a segment without instances");
        }
        verifiers = verifiers_;
        instanceCounts = instanceCounts_;
    }

    /// Reverts unless `calls[i]` (segment i's verifier calldata: its instances as 32-byte
    /// words, then the proof) is accepted by segment i's verifier for every i, and the
    /// hashes link. Returns the first segment's and the last segment's instances, the
    /// model's public inputs and outputs.
    function verify(bytes[] calldata calls) external view returns (bytes32[] memory first, bytes32[] memory last) {
        uint256 n = verifiers.length;
        if (calls.length != n) revert SegmentCount(n, calls.length);
        bytes32 outHash;
        for (uint256 i = 0; i < n; i++) {
            bytes calldata c = calls[i];
            uint256 count = instanceCounts[i];
            if (c.length < 32 * count) revert ShortCalldata(i);
            if (i > 0 && bytes32(c[0:32]) != outHash) revert BrokenChain(i - 1);
            (bool ok, bytes memory ret) = verifiers[i].staticcall(c);
            if (!ok || ret.length != 0) revert SegmentRejected(i);
            outHash = bytes32(c[32 * (count - 1):32 * count]);
        }
        first = words(calls[0], instanceCounts[0]);
        last = words(calls[n - 1], instanceCounts[n - 1]);
    }

    function words(bytes calldata c, uint256 count) private pure returns (bytes32[] memory out) {
        out = new bytes32[](count);
        for (uint256 j = 0; j < count; j++) {
            out[j] = bytes32(c[32 * j:32 * (j + 1)]);
        }
    }
}
