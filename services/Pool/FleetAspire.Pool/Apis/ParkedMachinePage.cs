namespace FleetAspire.Pool.Apis;

public sealed record ParkedMachinePage(IReadOnlyList<ParkedMachineResponse> Items, string? NextCursor);
