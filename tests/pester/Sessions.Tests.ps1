# Sessions and the generic RPC cmdlet against a real agent (Debian's qemu-ga).

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Agent = Start-LocalAgent -Kind Stock
}

AfterAll {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $script:Agent | Stop-LocalAgent
}

Describe 'New-VMGuestSession' {
    AfterEach {
        # A unix-listen agent (like a chardev socket) serves one client at a time.
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }

    It 'opens a session to a unix socket and lists it' {
        $s = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-stock'
        $s.State | Should -Be 'Opened'
        $s.Name | Should -Be 'pester-stock'
        (Get-VMGuestSession -Name 'pester-*').Id | Should -Contain $s.Id
        (Get-VMGuestSession -Id $s.Id).Name | Should -Be 'pester-stock'
    }

    It 'reports a missing socket as not found, naming it, with its ErrorId and what to do' {
        $err = $null
        $null = New-VMGuestSession -ConnectionString 'unix:/nonexistent/qga.sock' -ConnectTimeoutSec 2 -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentDisconnected,*'
        # Not .NET's "Cannot assign requested address" (ENOENT of a unix socket).
        $err[0].Exception.Message | Should -BeLike '*The socket /nonexistent/qga.sock does not exist*'
        $err[0].Exception.Message | Should -Not -BeLike '*Cannot assign requested address*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].ErrorDetails.RecommendedAction | Should -BeLike '*chardev*'
        $err[0].TargetObject | Should -Be 'unix:/nonexistent/qga.sock'
    }

    It 'rejects a malformed connection string with InvalidConnectionString' {
        $err = $null
        $null = New-VMGuestSession -ConnectionString 'tcp:no-port-here' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'InvalidConnectionString,*'
        $err[0].Exception.Message | Should -BeLike '*tcp:no-port-here*'
    }

    It 'takes VM names from the pipeline by value, and objects by their VMName property' {
        $null = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pipe-vm'
        $times = 'pipe-vm', 'pipe-vm' | Get-VMGuestTime
        @($times).Count | Should -Be 2
        $times | ForEach-Object { $_.VMName | Should -Be 'pipe-vm' }
        # A piped object is not taken as a VM name by its text: its properties bind.
        $handle = Open-VMGuestFile -VMName 'pipe-vm' -Path (Join-Path $Agent.Directory 'pipe.txt') -Mode w
        $handle | Close-VMGuestFile
        $err = $null
        # Not Test-VMGuestAgent: a Test- cmdlet answers $false instead of an error.
        'no-such-vm' | Get-VMGuestHostName -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VMNotFound,*'
        $err[0].TargetObject | Should -Be 'no-such-vm'
    }

    It 'turns a session Broken when its agent is gone, and Opened again once an agent answers' {
        $own = Start-LocalAgent -Kind Stock
        try {
            $s = New-VMGuestSession -ConnectionString $own.ConnectionString -Name 'pester-broken'
            $null = Get-VMGuestHostName -Session $s
            $s.State | Should -Be 'Opened'
            $own.Process.Kill($true); $null = $own.Process.WaitForExit(10000)
            Remove-Item -Force $own.Socket -ErrorAction SilentlyContinue
            $err = $null
            $null = Get-VMGuestHostName -Session $s -TimeoutSec 5 -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentDisconnected,*'
            $s.State | Should -Be 'Broken'
            (Get-VMGuestSession -Name 'pester-broken' | Out-String) | Should -Match 'Broken'
            $own | Restart-LocalAgent
            # -Verbose traces the reconnect and sync, then each call with how it ended.
            $verbose = @(Get-VMGuestHostName -Session $s -TimeoutSec 30 -Verbose 4>&1 | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | ForEach-Object Message)
            $s.State | Should -Be 'Opened'
            $verbose | Should -Contain 'pester-broken: guest-get-host-name (connecting, then syncing: 0xFF + guest-sync-delimited, first)'
            @($verbose -like 'pester-broken: guest-get-host-name answered in * ms').Count | Should -Be 1
            # Without -Verbose nothing is traced.
            @(Get-VMGuestHostName -Session $s 4>&1 | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Count | Should -Be 0
        }
        finally { $own | Stop-LocalAgent }
    }

    It 'names the VM on every error record (VMName, as PSComputerName for Invoke-Command)' {
        $s = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-err'
        $err = $null
        # An agent error: its target is the path, the VM is still named.
        $null = Open-VMGuestFile -Session $s -Path (Join-Path $Agent.Directory 'missing/x.txt') -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].VMName | Should -Be 'pester-err'
        # A per-item failure of a copy (target: the guest path).
        $local = Join-Path $Agent.Directory 'local-src.txt'
        Set-Content $local 'x'
        Copy-VMGuestFile -Session $s -LocalToGuest $local (Join-Path $Agent.Directory 'nofolder/') -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].VMName | Should -Be 'pester-err'
        # A VM that cannot be reached at all.
        'no-such-vm' | Get-VMGuestHostName -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].VMName | Should -Be 'no-such-vm'
    }

    It 'closes sessions with Remove-VMGuestSession' {
        $s = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-close'
        $s | Remove-VMGuestSession -Confirm:$false
        $s.State | Should -Be 'Closed'
        Get-VMGuestSession -Name 'pester-close' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-VMGuestRpc' {
    BeforeAll {
        $script:S = New-VMGuestSession -ConnectionString $Agent.ConnectionString -Name 'pester-rpc'
    }

    AfterAll {
        $script:S | Remove-VMGuestSession -Confirm:$false
    }

    It 'runs guest-info and returns the command list' {
        $info = Invoke-VMGuestRpc -Session $S -Command 'guest-info'
        $info.version | Should -Match '^\d+\.\d+'
        $info.supported_commands.name | Should -Contain 'guest-ping'
        $info.VMName | Should -Be 'pester-rpc'
    }

    It 'passes arguments and round-trips a file through guest-file-*' {
        $path = Join-Path $Agent.Directory 'rpc.txt'
        $h = Invoke-VMGuestRpc -Session $S guest-file-open @{ path = $path; mode = 'w' }
        $h | Should -BeGreaterOrEqual 1000
        $w = Invoke-VMGuestRpc -Session $S guest-file-write @{ handle = $h; 'buf-b64' = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('héllo')) }
        $w.count | Should -Be 6
        $null = Invoke-VMGuestRpc -Session $S guest-file-close @{ handle = $h }
        [IO.File]::ReadAllText($path) | Should -Be 'héllo'
    }

    It 'turns an agent error into AgentGenericError with the agent''s text' {
        $err = $null
        $null = Invoke-VMGuestRpc -Session $S guest-file-open @{ path = '/nonexistent/dir/x'; mode = 'r' } -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*'
        $err[0].Exception.Message | Should -BeLike '*No such file or directory*'
        $err[0].Exception.ErrorClass | Should -Be 'GenericError'
    }

    It 'turns an unknown command into AgentCommandNotFound' {
        $err = $null
        $null = Invoke-VMGuestRpc -Session $S guest-no-such-thing -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'AgentCommandNotFound,*'
        $err[0].CategoryInfo.Category | Should -Be 'NotImplemented'
    }

    It 'honours -WhatIf (nothing reaches the agent)' {
        $path = Join-Path $Agent.Directory 'whatif.txt'
        Invoke-VMGuestRpc -Session $S guest-file-open @{ path = $path; mode = 'w' } -WhatIf
        Test-Path $path | Should -BeFalse
    }

    It 'works from ForEach-Object -Parallel with a shared session' {
        $results = 1..8 | ForEach-Object -Parallel {
            Invoke-VMGuestRpc -Session $using:S guest-get-time
        } -ThrottleLimit 8
        @($results).Count | Should -Be 8
        $results | ForEach-Object { $_ | Should -BeGreaterThan 1600000000000000000 }
    }
}

Describe 'Sessions and VMs chosen by name pattern, through the relay' {
    # Issue 17: Remove-VMGuestSession -Name/-Id, and -VMName web* as PowerCLI's -VM web*. Two
    # VMs behind the real relay (which serves many clients per VM, unlike a bare unix-listen agent).
    BeforeAll {
        $script:A = Start-LocalAgent -Kind Stock
        $script:B = Start-LocalAgent -Kind Stock
        $script:Relay = Start-LocalRelay -Vms ([ordered]@{ 'web01' = $A; 'db01' = $B })
        $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
        $env:QEMUGUEST_RELAY_DIR = $Relay.RuntimeDirectory
    }

    AfterAll {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
        $env:QEMUGUEST_RELAY_DIR = $script:SavedRelayDir
        $script:Relay | Stop-LocalRelay
        $script:A, $script:B | Stop-LocalAgent
    }

    AfterEach {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }

    It 'a -VMName pattern reaches every relay VM it matches, each once' {
        $times = Get-VMGuestTime -VMName '*01', 'web*'
        @($times.VMName | Sort-Object) | Should -Be @('db01', 'web01')
    }

    It 'a -VMName pattern also matches open sessions by name' {
        $null = New-VMGuestSession -ConnectionString "unix:$($Relay.RuntimeDirectory)/db01.sock" -Name 'backend-db'
        (Get-VMGuestHostName -VMName 'backend-*').VMName | Should -Be 'backend-db'
    }

    It 'a -VMName pattern that matches nothing is VMNotFound naming the pattern' {
        $err = $null
        $out = Get-VMGuestTime -VMName 'mail*' -ErrorVariable err -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VMNotFound,*'
        $err[0].TargetObject | Should -Be 'mail*'
        $err[0].Exception.Message | Should -BeLike "*'mail`*'*"
    }

    It 'New-VMGuestSession -VMName web* opens one session per matching relay VM' {
        $s = New-VMGuestSession -VMName 'web*'
        @($s).Count | Should -Be 1
        $s.VMName | Should -Be 'web01'
    }

    It 'Remove-VMGuestSession -Name closes the sessions whose name or VM name matches, and no other' {
        $web = New-VMGuestSession -VMName web01
        $db = New-VMGuestSession -VMName db01
        Remove-VMGuestSession -Name 'WEB*'
        $web.State | Should -Be 'Closed'
        $db.State | Should -Be 'Opened'
        (Get-VMGuestSession).Id | Should -Not -Contain $web.Id
    }

    It 'Remove-VMGuestSession -Id closes that session; an unknown id or exact name is SessionNotFound' {
        $web = New-VMGuestSession -VMName web01
        $db = New-VMGuestSession -VMName db01
        Remove-VMGuestSession -Id $db.Id
        $db.State | Should -Be 'Closed'
        $web.State | Should -Be 'Opened'
        $err = $null
        Remove-VMGuestSession -Id 999999 -ErrorVariable err -ErrorAction SilentlyContinue
        Remove-VMGuestSession -Name 'no-such-session' -ErrorVariable +err -ErrorAction SilentlyContinue
        Remove-VMGuestSession -Name 'no-such-*' -ErrorVariable +err -ErrorAction SilentlyContinue
        @($err.FullyQualifiedErrorId | ForEach-Object { $_.Split(',')[0] }) | Should -Be @('SessionNotFound', 'SessionNotFound')
        $err[0].TargetObject | Should -Be 999999
        $err[1].TargetObject | Should -Be 'no-such-session'
        $web.State | Should -Be 'Opened'
    }
}
