// SPDX-License-Identifier: MIT
// Example consumer: a lending pool that sets a borrower's credit limit from a proven
// credit-score model (models/zoo/credit_mlp: 8 features in, logits [repays, defaults] out).
pragma solidity 0.8.19;

import "ZkinferCoordinator.sol";

/// Borrowers ask for a credit limit; the model's proven logits set it:
/// limit = maxCreditLimit * clamp(repays - defaults, 0, 4) / 4 (logits as numbers).
/// The features are the borrower's own claim here; a production pool would take them
/// from an attested source (or request a hashed-input model on committed data).
contract CreditLendingPool is ZkinferConsumer {
    error NoPendingRequest(uint256 requestId);
    error NotBorrower(uint256 requestId);
    error RefundFailed();

    event CreditLimitRequested(address indexed borrower, uint256 requestId);
    event CreditLimitSet(address indexed borrower, uint256 requestId, uint256 limit, int256 margin);

    bytes32 public immutable modelId;
    uint256 public immutable maxCreditLimit;
    uint32 public constant CALLBACK_GAS = 200_000;

    mapping(address => uint256) public creditLimit;
    mapping(uint256 => address) public borrowerOf;

    constructor(ZkinferCoordinator coordinator_, bytes32 modelId_, uint256 maxCreditLimit_) ZkinferConsumer(coordinator_) {
        modelId = modelId_;
        maxCreditLimit = maxCreditLimit_;
    }

    /// Requests a credit score for the caller on `features` (fixed-point at the model's
    /// input scale); the value sent is the fee of the node that proves it.
    function requestCreditLimit(int256[] calldata features) external payable returns (uint256 requestId) {
        requestId = _requestInference(modelId, features, CALLBACK_GAS, msg.value);
        borrowerOf[requestId] = msg.sender;
        emit CreditLimitRequested(msg.sender, requestId);
    }

    /// After the request's deadline, its borrower takes back the fee.
    function reclaimFee(uint256 requestId) external {
        if (borrowerOf[requestId] != msg.sender) revert NotBorrower(requestId);
        delete borrowerOf[requestId];
        uint256 before = address(this).balance;
        coordinator.reclaim(requestId);
        (bool ok,) = payable(msg.sender).call{value: address(this).balance - before}("");
        if (!ok) revert RefundFailed();
    }

    function _onInference(uint256 requestId, int256[] calldata outputs, uint256 scale) internal override {
        address borrower = borrowerOf[requestId];
        if (borrower == address(0)) revert NoPendingRequest(requestId);
        delete borrowerOf[requestId];
        int256 margin = outputs[0] - outputs[1];
        int256 cap = int256(4) << scale;
        if (margin < 0) margin = 0;
        if (margin > cap) margin = cap;
        uint256 limit = maxCreditLimit * uint256(margin) / uint256(cap);
        creditLimit[borrower] = limit;
        emit CreditLimitSet(borrower, requestId, limit, outputs[0] - outputs[1]);
    }
}
