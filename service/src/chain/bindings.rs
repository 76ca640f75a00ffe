//! ABI bindings of the attestor, the coordinator, the segment chain and the example consumer
//! (`verifier-contracts/contracts/*.sol`, `zkinfer_verifier_contracts::attestor`).

#![allow(missing_docs)]

alloy_sol_types::sol! {
    #[derive(Debug, PartialEq, Eq)]
    struct Decoded {
        int256[] inputs;
        int256[] outputs;
        uint256 scale;
        uint256 inputHash;
        uint256 paramHash;
        uint256 outputHash;
    }

    #[derive(Debug, PartialEq, Eq)]
    interface IZkinferAttestor {
        error InstanceCount(uint256 expected, uint256 got);
        error NonCanonicalInstance(uint256 index);
        error BadPacking(uint256 index);
        error ParamHashMismatch(uint256 expected, uint256 got);
        error ProofRejected();
        error VerifierWithoutCode(address verifier);

        function verifyAndDecode(bytes proof, uint256[] instances) external view returns (Decoded d);
        function decode(uint256[] instances) external pure returns (Decoded d);
        function verifier() external view returns (address);
    }

    #[derive(Debug, PartialEq, Eq)]
    interface IZkinferCoordinator {
        error NotModelOwner(bytes32 modelId);
        error InputsNotBound(address attestor);
        error UnknownModel(bytes32 modelId);
        error WrongInputCount(uint256 expected, uint256 got);
        error CallbackGasTooHigh(uint256 max, uint256 got);
        error FeeTooLarge();
        error UnknownRequest(uint256 requestId);
        error AlreadyFulfilled(uint256 requestId);
        error RequestExpired(uint256 requestId);
        error NotExpired(uint256 requestId);
        error NotRequester(uint256 requestId);
        error InputMismatch(uint256 requestId);
        error InsufficientGasForCallback(uint256 requestId);
        error PaymentFailed();

        event ModelRegistered(bytes32 indexed modelId, address indexed owner, address attestor);
        event InferenceRequested(
            uint256 indexed requestId,
            bytes32 indexed modelId,
            address indexed requester,
            int256[] inputs,
            uint256 fee,
            uint32 callbackGasLimit,
            uint64 deadline
        );
        event InferenceDelivered(uint256 indexed requestId, address indexed deliverer, bool callbackSucceeded);
        event FeeReclaimed(uint256 indexed requestId);

        function registerModel(bytes32 modelId, address attestor) external;
        function requestInference(bytes32 modelId, int256[] inputs, uint32 callbackGasLimit) external payable returns (uint256 requestId);
        function deliver(uint256 requestId, bytes proof, uint256[] instances) external;
        function reclaim(uint256 requestId) external;
        function isPending(uint256 requestId) external view returns (bool);
        function nextRequestId() external view returns (uint256);
        function requestTimeout() external view returns (uint64);
        function models(bytes32 modelId) external view returns (address owner, address attestor, bool hashedInputs, uint32 numInputs);
        function requests(uint256 requestId) external view returns (address requester, uint96 fee, bytes32 modelId, bytes32 inputsHash, uint64 deadline, uint32 callbackGasLimit, uint8 status);
    }

    #[derive(Debug, PartialEq, Eq)]
    interface IZkinferSegmentChain {
        error SegmentCount(uint256 expected, uint256 got);
        error ShortCalldata(uint256 segment);
        error BrokenChain(uint256 segment);
        error SegmentRejected(uint256 segment);

        function verify(bytes[] calls) external view returns (bytes32[] first, bytes32[] last);
        function verifiers(uint256 index) external view returns (address);
        function instanceCounts(uint256 index) external view returns (uint256);
    }

    #[derive(Debug, PartialEq, Eq)]
    interface ICreditLendingPool {
        error NoPendingRequest(uint256 requestId);
        error NotBorrower(uint256 requestId);
        error RefundFailed();
        error OnlyCoordinator();

        event CreditLimitRequested(address indexed borrower, uint256 requestId);
        event CreditLimitSet(address indexed borrower, uint256 requestId, uint256 limit, int256 margin);

        function requestCreditLimit(int256[] features) external payable returns (uint256 requestId);
        function creditLimit(address borrower) external view returns (uint256);
        function maxCreditLimit() external view returns (uint256);
        function reclaimFee(uint256 requestId) external;
    }
}
