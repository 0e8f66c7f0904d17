using FleetAspire.Cloud;
using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Shadow;
using FleetAspire.Data.Reads;
using FleetAspire.Names;
using FleetAspire.Pool.Application;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Pool.MachineTransition;

/// <summary>The pool from the legacy pool table, while it is authoritative (ids are pool row ids).</summary>
public sealed class LegacyPoolReads(FleetDbContext db) : IPoolReads
{
    public async Task<IReadOnlyDictionary<string, int>> CountsAsync(CancellationToken cancellationToken) =>
        await db.ParkedMachines.AsNoTracking().GroupBy(p => p.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);

    public async Task<IReadOnlyList<PoolMachineView>> PageAsync(string? status, string? after, int take, CancellationToken cancellationToken) =>
        await db.ParkedMachines.AsNoTracking()
            .Where(p => (status == null || p.Status == status) && (after == null || string.Compare(p.Id, after) > 0))
            .OrderBy(p => p.Id).Take(take + 1)
            .Select(p => new PoolMachineView(p.Id, p.MachineId, p.MachineName, p.Ipv4, p.Status, p.CreatedAt))
            .ToListAsync(cancellationToken);
}

/// <summary>
/// The one place in the pool service that picks where the pool is read from, by the migration phase — and that offers
/// what a read served for a shadow comparison with the other side (sampled; never on the request path).
/// </summary>
public sealed class PoolReadsSelector(TransitionModeResolver modes, FleetDbContext db, ShadowCompareQueue shadow) : IReads<IPoolReads>
{
    public async Task<IPoolReads> CurrentAsync() => (await modes.ForReadAsync()).ReadMachine ? new MachinePoolReads(db) : new LegacyPoolReads(db);

    /// <summary>Pool machines a page served, by provider id (a server still being created has none and is not compared).</summary>
    public async Task ServedAsync(string entity, IReadOnlyCollection<string> ids)
    {
        if (ids.Count > 0)
        {
            shadow.Offer(await modes.CurrentAsync(), MachineShadow.Machines(ids));
        }
    }
}

/// <summary>Pool writes while the migration runs: the legacy table, or Machine only.</summary>
public sealed class PoolSides(FleetDbContext db, ICloudProvider provider, TimeProvider time) : IStorageSides<IPoolWrites>
{
    public IPoolWrites Legacy => new LegacyPoolWrites(db, provider, time);
    public IPoolWrites Machine => new MachinePoolWrites(db, provider, time);
}

internal static class PoolTransition
{
    /// <summary>
    /// The pool's part in the migration: the phase machinery, and its selectors registered over the steady-state
    /// storage. Called before messaging: consumers' writes pass the same fence and dual-write as requests.
    /// </summary>
    public static void AddPoolTransition(this IHostApplicationBuilder builder)
    {
        builder.AddMachineTransition(ResourceNames.Pool);
        builder.Services.AddScoped<PoolReadsSelector>();
        builder.Services.AddScoped<IReads<IPoolReads>>(sp => sp.GetRequiredService<PoolReadsSelector>());
        builder.Services.AddScoped<IStorageSides<IPoolWrites>, PoolSides>();
    }
}
