namespace FleetAspire.Data.Entities;

public static class MachineTypes
{
    public const string Hetzner = "hetzner";
    public const string Custom = "custom";
}
