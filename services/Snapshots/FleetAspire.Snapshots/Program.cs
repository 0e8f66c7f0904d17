using FleetAspire.Messaging;
using FleetAspire.Snapshots;
using FleetAspire.Snapshots.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapSnapshotsApi();
app.MapOutboxApi();

app.Run();
