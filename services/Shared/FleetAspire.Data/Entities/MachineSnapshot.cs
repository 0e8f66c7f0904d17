namespace FleetAspire.Data.Entities;

/// <summary>A disk image of a machine. <see cref="MachineId"/> is a plain string today (no foreign key).</summary>
public class MachineSnapshot
{
    public required string Id { get; set; }
    public required string MachineId { get; set; }
    public string? ProviderImageId { get; set; }
    public required string Status { get; set; }
    public long? SizeBytes { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
