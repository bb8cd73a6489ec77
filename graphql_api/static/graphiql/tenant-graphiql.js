// GraphiQL with a tenant selector and a login helper (graphql_api/graphiql.py).
// Plain React.createElement: no build step; React, ReactDOM and GraphiQL are the
// packaged UMD files loaded before this one.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var e = React.createElement;
  var TOKEN_KEY = 'tenant-graphql:token';
  var WHO_KEY = 'tenant-graphql:who';
  var LOGIN =
    'mutation Login($email: String!, $password: String!, $tenant: String) {\n' +
    '  login(email: $email, password: $password, tenant: $tenant) {\n' +
    '    token user { email role } userErrors { code message }\n' +
    '  }\n' +
    '}';

  function endpointFor(slug) {
    return slug ? '/t/' + encodeURIComponent(slug) + '/graphql' : '/graphql';
  }

  function describe(errors) {
    return errors
      .map(function (error) {
        var code = error.code || (error.extensions || {}).code || 'ERROR';
        return code + ': ' + error.message;
      })
      .join('; ');
  }

  function App() {
    var tenantState = React.useState(config.tenant);
    var tenant = tenantState[0], setTenant = tenantState[1];
    var tokenState = React.useState(sessionStorage.getItem(TOKEN_KEY) || '');
    var token = tokenState[0], setToken = tokenState[1];
    var emailState = React.useState('');
    var email = emailState[0], setEmail = emailState[1];
    var passwordState = React.useState('');
    var password = passwordState[0], setPassword = passwordState[1];
    var statusState = React.useState(sessionStorage.getItem(WHO_KEY) || 'not logged in');
    var status = statusState[0], setStatus = statusState[1];

    var fetcher = React.useMemo(
      function () {
        var headers = token ? { Authorization: 'Bearer ' + token } : {};
        return GraphiQL.createFetcher({ url: endpointFor(tenant), headers: headers });
      },
      [tenant, token]
    );

    function chooseTenant(slug) {
      setTenant(slug);
      window.history.replaceState(null, '', endpointFor(slug));
    }

    function pickLogin(value) {
      setEmail(value);
      var preset = config.logins.filter(function (login) { return login.email === value; })[0];
      if (preset) {
        setPassword(config.demoPassword);
        chooseTenant(preset.tenant || '');
      }
    }

    function forget(message) {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(WHO_KEY);
      setToken('');
      setStatus(message);
    }

    function login(event) {
      event.preventDefault();
      fetch(endpointFor(tenant), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          query: LOGIN,
          variables: { email: email, password: password, tenant: tenant || null },
        }),
      })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          var payload = body.data && body.data.login;
          if (payload && payload.token) {
            var who = payload.user.email + ' (' + payload.user.role + ')';
            sessionStorage.setItem(TOKEN_KEY, payload.token);
            sessionStorage.setItem(WHO_KEY, who);
            setToken(payload.token);
            setStatus(who);
            setPassword('');
          } else {
            forget('login failed: ' + describe((payload && payload.userErrors) || body.errors || []));
          }
        })
        .catch(function (error) { forget('login failed: ' + error); });
    }

    var bar = e(
      'form',
      { className: 'tg-bar', onSubmit: login },
      e('label', null, 'Tenant ',
        e('input', {
          list: 'tg-tenants', value: tenant, placeholder: '(platform)', size: 18,
          'aria-label': 'tenant slug',
          onChange: function (event) { chooseTenant(event.target.value.trim()); },
        })),
      e('datalist', { id: 'tg-tenants' },
        config.tenants.map(function (slug) { return e('option', { key: slug, value: slug }); })),
      e('span', { className: 'tg-endpoint' }, endpointFor(tenant)),
      e('input', {
        type: 'email', list: 'tg-logins', value: email, placeholder: 'email', size: 28,
        'aria-label': 'email', onChange: function (event) { pickLogin(event.target.value); },
      }),
      e('datalist', { id: 'tg-logins' },
        config.logins.map(function (login) {
          return e('option', { key: login.email, value: login.email }, login.tenant || 'platform');
        })),
      e('input', {
        type: 'password', value: password, placeholder: 'password', size: 14,
        'aria-label': 'password', onChange: function (event) { setPassword(event.target.value); },
      }),
      e('button', { type: 'submit' }, 'Log in'),
      e('button', {
        type: 'button', disabled: !token,
        onClick: function () { forget('logged out'); },
      }, 'Log out'),
      e('span', { className: 'tg-status' }, status)
    );
    return e('div', { className: 'tg-root' },
      bar,
      e('div', { className: 'tg-ide' }, e(GraphiQL, { key: tenant, fetcher: fetcher })));
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(e(App));
})();
