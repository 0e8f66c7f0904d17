namespace FleetAspire.Data.Writes;

public sealed record ClaimRequest(string AgentId, string UserId, bool IsOperator, DateTimeOffset Now, Guid MessageId, string MessageType, string? TraceParent);
