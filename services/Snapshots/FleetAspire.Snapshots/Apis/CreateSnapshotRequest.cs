namespace FleetAspire.Snapshots.Apis;

public sealed record CreateSnapshotRequest(string? AgentId);
