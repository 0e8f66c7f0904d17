using FleetAspire.AppHost;
using FleetAspire.AppHost.Infrastructure;
using FleetAspire.Names;

var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL and RabbitMQ: containers, this machine's binaries, or given connection strings (docs/adr/0003).
var infrastructure = builder.AddFleetInfrastructure();
var signingKey = builder.AddParameter("auth-signing-key", secret: true);

// Exactly one process migrates; every service waits for it to finish.
var migrator = builder.AddProject<Projects.FleetAspire_Migrator>(ResourceNames.Migrator)
    .WithReference(infrastructure.Database).WaitFor(infrastructure.Database)
    .WithFleetTelemetryDefaults();

builder.AddFleetService<Projects.FleetAspire_Agents>(ResourceNames.Agents, ServicePorts.Agents, infrastructure, migrator, signingKey);
builder.AddFleetService<Projects.FleetAspire_Machines>(ResourceNames.Machines, ServicePorts.Machines, infrastructure, migrator, signingKey);
builder.AddFleetService<Projects.FleetAspire_Pool>(ResourceNames.Pool, ServicePorts.Pool, infrastructure, migrator, signingKey);
builder.AddFleetService<Projects.FleetAspire_Snapshots>(ResourceNames.Snapshots, ServicePorts.Snapshots, infrastructure, migrator, signingKey);

// The migration control service: backfill and verification, with dashboard commands for operators.
builder.AddFleetService<Projects.FleetAspire_Migration>(ResourceNames.Migration, ServicePorts.Migration, infrastructure, migrator, signingKey)
    .WithMigrationCommands(signingKey);

// Old code beside the new: a pre-migration build's writes (legacy columns only), started by hand from the dashboard to
// watch them be classified legacy-only-write, hold MachineRead closed, and be repaired (docs/adr/0013).
builder.AddProject<Projects.FleetAspire_OldWriter>(ResourceNames.OldWriter, options => options.ExcludeLaunchProfile = true)
    .WithReference(infrastructure.Database).WaitForCompletion(migrator)
    .WithExplicitStart();

// A service whose process dies is started again (Aspire does not do it by itself; docs/adr/0017).
builder.AddServiceSupervisor();

builder.Build().Run();
