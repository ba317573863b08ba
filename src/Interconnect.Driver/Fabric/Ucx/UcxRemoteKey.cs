using Interconnect.Driver.Interop;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A peer's remote key unpacked on one endpoint (<see cref="UcxEndpoint.UnpackKey"/>): it opens the peer's registered
/// memory to puts, gets and atomics on that endpoint only. Disposed with its endpoint if not before. Its handle
/// (<see cref="SafeUcxRemoteKeyHandle"/>) holds the endpoint's, so the key is destroyed before the endpoint's handle is
/// released, whatever order the owners dispose them in.
/// </summary>
internal sealed class UcxRemoteKey : IDisposable
{
    private readonly SafeUcxRemoteKeyHandle _handle;

    internal UcxRemoteKey(UcxEndpoint endpoint, SafeUcxRemoteKeyHandle handle)
    {
        Endpoint = endpoint;
        _handle = handle;
    }

    internal UcxEndpoint Endpoint { get; }

    /// <summary>The rkey handle, closed once disposed; used under the worker's lock.</summary>
    internal SafeUcxRemoteKeyHandle Handle => _handle;

    public void Dispose()
    {
        lock (Endpoint.Worker.Lock) // the endpoint's list of keys
        {
            if (!_handle.IsClosed)
            {
                _handle.Dispose();
                Endpoint.Forget(this);
            }
        }
    }
}
