namespace FleetAspire.Data.Writes;

/// <summary>A claim as the caller asks it: who claims, when, and the id and trace of the event it writes.</summary>
public sealed record ClaimRequest(string AgentId, string UserId, bool IsOperator, DateTimeOffset Now, Guid MessageId, string? TraceParent);
