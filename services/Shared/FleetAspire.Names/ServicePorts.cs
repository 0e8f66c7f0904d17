namespace FleetAspire.Names;

/// <summary>The fixed HTTP ports operators' scripts and dashboards rely on.</summary>
public static class ServicePorts
{
    public const int Agents = 5101;
    public const int Machines = 5102;
    public const int Pool = 5103;
    public const int Snapshots = 5104;
    public const int Migration = 5105;
    public const int Dashboard = 18888;
}
