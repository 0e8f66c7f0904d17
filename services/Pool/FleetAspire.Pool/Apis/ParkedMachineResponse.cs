namespace FleetAspire.Pool.Apis;

/// <summary>A pool machine as operators see it; the sharedKey stays in the database.</summary>
/// <summary>A pool machine. <c>Id</c> is the pool row id while the legacy pool table is read, the Machine id from MachineRead on.</summary>
public sealed record ParkedMachineResponse(string Id, string? MachineId, string? MachineName, string? Ipv4, string Status, DateTimeOffset CreatedAt);
