namespace FleetAspire.Data.Entities;

/// <summary>A machine a user registered themselves.</summary>
/// <remarks>
/// Additions to the seed's model: <see cref="Port"/> and the optional hardware facts (<see cref="Os"/>,
/// <see cref="Arch"/>, <see cref="CpuCount"/>, <see cref="MemoryGb"/>), because the unified Machine needs them.
/// </remarks>
public class CustomMachine
{
    public const int DefaultPort = 8911;

    public required string Id { get; set; }
    public required string Ipv4 { get; set; }
    public int Port { get; set; } = DefaultPort;
    public required string SharedKey { get; set; }
    public required string UserId { get; set; }
    public string? CurrentAgentId { get; set; }
    public string? Os { get; set; }
    public string? Arch { get; set; }
    public int? CpuCount { get; set; }
    public int? MemoryGb { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
