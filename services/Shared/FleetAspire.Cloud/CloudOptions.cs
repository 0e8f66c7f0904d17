namespace FleetAspire.Cloud;

public sealed class CloudOptions
{
    public const string Section = "Cloud";

    public HetznerOptions Hetzner { get; set; } = new();
    public SimulatorOptions Simulator { get; set; } = new();
}
