using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A peer's remote key unpacked on one endpoint (<see cref="UcxEndpoint.UnpackKey"/>): it opens the peer's registered
/// memory to puts, gets and atomics on that endpoint only. Disposed with its endpoint if not before.
/// </summary>
internal sealed class UcxRemoteKey : IDisposable
{
    private nint _handle;

    internal UcxRemoteKey(UcxEndpoint endpoint, nint handle)
    {
        Endpoint = endpoint;
        _handle = handle;
    }

    internal UcxEndpoint Endpoint { get; }

    /// <summary>The rkey handle, or 0 once disposed; read under the worker's lock.</summary>
    internal nint Handle => _handle;

    public void Dispose()
    {
        lock (Endpoint.Worker.Lock)
        {
            if (_handle != 0)
            {
                Native.RkeyDestroy(_handle);
                _handle = 0;
                Endpoint.Forget(this);
            }
        }
    }
}
