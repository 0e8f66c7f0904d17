using FleetAspire.Data;
using FleetAspire.Migrator;

var builder = Host.CreateApplicationBuilder(args);

builder.ConfigureOpenTelemetry();
builder.AddFleetDatabase();
builder.Services.AddHostedService<MigrationWorker>();

builder.Build().Run();
