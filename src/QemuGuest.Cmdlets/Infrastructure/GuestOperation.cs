using System.Threading.Tasks;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// Runs one guest operation against one target session; called on a worker thread.
/// Output goes through <see cref="GuestCmdlet.Post"/>, never straight to the pipeline.
/// </summary>
public delegate Task GuestOperation(GuestOperationContext context);
