using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Pool.Application;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>Pool writes while the migration runs: the legacy table, or Machine only.</summary>
public sealed class PoolSides(FleetDbContext db, ICloudProvider provider, TimeProvider time) : IStorageSides<IPoolWrites>
{
    public IPoolWrites Legacy => new LegacyPoolWrites(db, provider, time);
    public IPoolWrites Machine => new MachinePoolWrites(db, provider, time);
}
