using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data;

/// <summary>The provider settings every user of <see cref="FleetDbContext"/> shares: services, migrator, tests, bench.</summary>
public static class FleetDbContextOptions
{
    public static TBuilder UseFleetConventions<TBuilder>(this TBuilder options) where TBuilder : DbContextOptionsBuilder
    {
        options.UseSnakeCaseNamingConvention();
        FleetDbContext.ConfigureOptions(options);
#if !MACHINE_TRANSITION
        // The steady-state build maps no legacy column while the migrations' model snapshot still holds them, until
        // the migration written the day the transition code goes (docs/removing-the-transition.md).
        options.ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.PendingModelChangesWarning));
#endif
        return options;
    }

    /// <summary>Options for code that builds a context by hand (migrator tests, bench, fixtures).</summary>
    public static DbContextOptions<FleetDbContext> Build(string connectionString) =>
        new DbContextOptionsBuilder<FleetDbContext>()
            .UseNpgsql(connectionString)
            .UseFleetConventions()
            .Options;
}
