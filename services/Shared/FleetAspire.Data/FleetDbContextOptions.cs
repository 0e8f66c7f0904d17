using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Data;

/// <summary>The provider settings every user of <see cref="FleetDbContext"/> shares: services, migrator, tests, bench.</summary>
public static class FleetDbContextOptions
{
    public static TBuilder UseFleetConventions<TBuilder>(this TBuilder options) where TBuilder : DbContextOptionsBuilder
    {
        options.UseSnakeCaseNamingConvention();
        FleetDbContext.ConfigureOptions(options);
        return options;
    }

    /// <summary>The assembly of the steady state's migrations (a fresh database after the machine migration, ADR 0022).</summary>
    public const string SteadyMigrationsAssembly = "FleetAspire.Data.SteadyMigrations";

    /// <summary>
    /// The migrations this build applies: the steady set in the steady build, the legacy → expand set (this assembly)
    /// while the transition is compiled in.
    /// </summary>
#if MACHINE_TRANSITION
    public static string? MigrationsAssembly => null;
#else
    public static string? MigrationsAssembly => SteadyMigrationsAssembly;
#endif

    /// <summary>Npgsql with this build's migrations, or the named set.</summary>
    public static TBuilder UseFleetNpgsql<TBuilder>(this TBuilder options, string connectionString, string? migrationsAssembly = null)
        where TBuilder : DbContextOptionsBuilder
    {
        options.UseNpgsql(connectionString, npgsql =>
        {
            if ((migrationsAssembly ?? MigrationsAssembly) is { } assembly)
            {
                npgsql.MigrationsAssembly(assembly);
            }
        });
        return options;
    }

    /// <summary>Options for code that builds a context by hand (migrator tests, bench, fixtures).</summary>
    public static DbContextOptions<FleetDbContext> Build(string connectionString) =>
        new DbContextOptionsBuilder<FleetDbContext>()
            .UseFleetNpgsql(connectionString)
            .UseFleetConventions()
            .Options;

    /// <summary>
    /// Options that apply the steady migrations whatever this build is: the schema-equality test runs them in the
    /// normal build, whose model still has the legacy half (so its pending-changes check is off here).
    /// </summary>
    public static DbContextOptions<FleetDbContext> BuildSteady(string connectionString) =>
        new DbContextOptionsBuilder<FleetDbContext>()
            .UseFleetNpgsql(connectionString, SteadyMigrationsAssembly)
            .UseFleetConventions()
            .ConfigureWarnings(w => w.Ignore(Microsoft.EntityFrameworkCore.Diagnostics.RelationalEventId.PendingModelChangesWarning))
            .Options;
}
